//! The outside world coming in: files, gzip, standard input with a flush timeout, reader
//! threads.

pub(crate) mod live;
pub mod read;
