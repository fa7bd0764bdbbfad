DELETE FROM sqlite_stat1;
