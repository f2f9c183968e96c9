//! A policy file held in memory, with the byte-offset → line/column mapping diagnostics need.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// The largest policy file Custos reads. Real policies are a few tens of kilobytes; anything
/// this large is a mistake (a log, a dump) and is refused before parsing.
pub const MAX_POLICY_BYTES: u64 = 4 * 1024 * 1024;

/// One source file: its name as the user gave it, and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// Why a policy file could not be read at all. Each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The path does not exist.
    #[error("{path}: no such file")]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The path is a directory.
    #[error("{path}: is a directory; give the policy file inside it")]
    Directory {
        /// The path as given.
        path: PathBuf,
    },
    /// The file exceeds [`MAX_POLICY_BYTES`].
    #[error("{path}: {size} bytes is too large for a policy file (the limit is {limit} bytes)")]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error(
        "{path}: not a text file (invalid UTF-8 at byte {offset}); a policy is a UTF-8 TOML file"
    )]
    NotText {
        /// The path as given.
        path: PathBuf,
        /// The first invalid byte.
        offset: usize,
    },
    /// Any other I/O failure (permissions, ...).
    #[error("{path}: {source}")]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ReadError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> custos_types::ErrorCode {
        match self {
            ReadError::NotFound { .. }
            | ReadError::Directory { .. }
            | ReadError::TooLarge { .. }
            | ReadError::NotText { .. }
            | ReadError::Io { .. } => custos_types::ErrorCode::InvalidPolicy,
        }
    }
}

impl SourceFile {
    /// Wraps text that is already in memory.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// Reads a policy file from disk, refusing directories, huge files and binary files with
    /// an error that names the path.
    pub fn read(path: &Path) -> Result<Self, ReadError> {
        let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound {
                path: path.to_owned(),
            },
            _ => ReadError::Io {
                path: path.to_owned(),
                source,
            },
        })?;
        if meta.is_dir() {
            return Err(ReadError::Directory {
                path: path.to_owned(),
            });
        }
        if meta.len() > MAX_POLICY_BYTES {
            return Err(ReadError::TooLarge {
                path: path.to_owned(),
                size: meta.len(),
                limit: MAX_POLICY_BYTES,
            });
        }
        let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ReadError::NotText {
            path: path.to_owned(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        if let Some(offset) = text.find('\0') {
            return Err(ReadError::NotText {
                path: path.to_owned(),
                offset,
            });
        }
        Ok(SourceFile::new(path.display().to_string(), text))
    }

    /// The file name as the user gave it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Line and column of a byte offset (clamped to the text).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self.text[start..floor_char_boundary(&self.text, offset)]
            .chars()
            .count()
            + 1;
        LineCol {
            line: line + 1,
            column,
        }
    }

    /// The text of 1-based line `line`, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len());
        let end = self
            .line_starts
            .get(line)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        self.text[start..end.max(start)].trim_end_matches('\r')
    }

    /// The source text covered by `span`, clamped to the text.
    pub fn slice(&self, span: &Range<usize>) -> &str {
        let start = floor_char_boundary(&self.text, span.start.min(self.text.len()));
        let end = floor_char_boundary(&self.text, span.end.min(self.text.len()));
        &self.text[start..end.max(start)]
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_characters() {
        let f = SourceFile::new("x.toml", "a = 1\nnaam = \"é\" x\n");
        assert_eq!(f.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(f.line_col(6), LineCol { line: 2, column: 1 });
        let x = f.text().rfind('x').unwrap();
        assert_eq!(
            f.line_col(x),
            LineCol {
                line: 2,
                column: 12
            }
        );
        assert_eq!(f.line_text(2), "naam = \"é\" x");
    }
}
