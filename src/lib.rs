pub mod db;
pub mod model;
pub mod ratelimit;
pub mod sql;
