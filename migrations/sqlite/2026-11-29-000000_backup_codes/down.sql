DROP TABLE backup_code;
