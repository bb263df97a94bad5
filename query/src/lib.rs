//! tianshu-query
