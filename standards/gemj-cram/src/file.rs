//! A whole CRAM file through the codec: [`rewrite`] reads every structure this crate knows and
//! writes it back, which checks a file's structure (every CRC32, length and count) and, for a
//! file whose integers are all in their shortest form, gives back its bytes.

use crate::{
    Block, CramError, Result, content_type,
    file_definition::{read_file_definition, write_file_definition},
    num::take,
    read_block, read_compression_header, read_container_header, read_slice_header, write_block,
    write_compression_header, write_container_header, write_slice_header,
};

/// What [`rewrite`] went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Containers, the header and end-of-file containers included.
    pub containers: usize,
    /// Blocks.
    pub blocks: usize,
    /// Raw slice header blocks read and written as slice headers.
    pub slice_headers: usize,
    /// Raw compression header blocks read and written as compression headers.
    pub compression_headers: usize,
}

/// Reads a whole CRAM 3 file (file definition, then containers) and writes it back: container
/// headers, blocks, and the payloads of raw slice header and compression header blocks as
/// structures; other payloads as stored.
///
/// # Errors
/// Any [`CramError`] of the readers; [`CramError::Invalid`] for a container whose blocks do
/// not fill its body exactly as its header says.
pub fn rewrite(bytes: &[u8]) -> Result<(Vec<u8>, Summary)> {
    let mut src = bytes;
    let definition = read_file_definition(&mut src)?;
    let version = definition.version;
    let mut out = Vec::with_capacity(bytes.len());
    write_file_definition(&mut out, &definition);
    let mut summary = Summary::default();

    while !src.is_empty() {
        let header = read_container_header(&mut src, version)?;
        write_container_header(&mut out, &header)?;
        let mut body = take(&mut src, header.length)?;
        summary.containers += 1;

        let mut blocks = 0;
        let mut payload = Vec::new();
        while !body.is_empty() {
            let block = read_block(&mut body, version)?;
            blocks += 1;
            payload.clear();
            match (block.content_type, block.raw_data()) {
                (content_type::COMPRESSION_HEADER, Some(data)) => {
                    write_compression_header(&mut payload, &read_compression_header(data)?)?;
                    summary.compression_headers += 1;
                }
                (content_type::SLICE_HEADER, Some(data)) => {
                    write_slice_header(&mut payload, &read_slice_header(data)?)?;
                    summary.slice_headers += 1;
                }
                _ => payload.extend_from_slice(block.data),
            }
            write_block(
                &mut out,
                &Block {
                    data: &payload,
                    ..block
                },
            )?;
        }
        if blocks != header.block_count {
            return Err(CramError::Invalid(
                "a container's block count differs from its blocks (CRAMv3 § 7)",
            ));
        }
        summary.blocks += blocks;
    }

    Ok((out, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EOF_CONTAINER;

    #[test]
    fn eof_only_file() -> Result<()> {
        let mut file = b"CRAM\x03\x00".to_vec();
        file.extend([0; 20]);
        file.extend(EOF_CONTAINER);
        let (out, summary) = rewrite(&file)?;
        assert_eq!(out, file);
        assert_eq!(
            summary,
            Summary {
                containers: 1,
                blocks: 1,
                slice_headers: 0,
                compression_headers: 1
            }
        );
        assert!(rewrite(&file[..file.len() - 1]).is_err());
        Ok(())
    }
}
