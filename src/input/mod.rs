//! The outside world coming in: files, gzip, standard input with a flush timeout, reader
//! threads, files followed through rotation.

pub(crate) mod follow;
pub(crate) mod live;
pub mod read;
