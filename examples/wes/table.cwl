# The counts, one per line, in order.
cwlVersion: v1.2
class: CommandLineTool
baseCommand: cat
inputs:
  counts:
    type: File[]
    inputBinding: {position: 1}
stdout: counts.txt
outputs:
  table:
    type: stdout
