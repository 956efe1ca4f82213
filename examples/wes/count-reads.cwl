# Counts the reads of a BAM in each of a list of regions (samtools view -c, one job per region,
# scattered), and writes one count per line, in the order of the regions. The demo's example
# WES workflow: its BAM comes as a drs:// id of the gateway, staged for the run.
cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  bam:
    type: File
    secondaryFiles: [.bai]
  regions: string[]
steps:
  count:
    run: count.cwl
    scatter: region
    in:
      bam: bam
      region: regions
    out: [count]
  table:
    run: table.cwl
    in:
      counts: count/count
    out: [table]
outputs:
  counts:
    type: File
    outputSource: table/table
