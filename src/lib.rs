pub mod db;
pub mod format;
pub mod model;
pub mod ratelimit;
pub mod seed;
pub mod sql;
