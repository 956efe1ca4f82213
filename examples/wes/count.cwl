# The reads of a BAM in one region: samtools view -c.
cwlVersion: v1.2
class: CommandLineTool
baseCommand: [samtools, view, -c]
inputs:
  bam:
    type: File
    secondaryFiles: [.bai]
    inputBinding: {position: 1}
  region:
    type: string
    inputBinding: {position: 2}
stdout: count.txt
outputs:
  count:
    type: stdout
