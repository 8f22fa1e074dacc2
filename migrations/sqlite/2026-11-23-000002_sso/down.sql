DROP TABLE login_throttle;
DROP TABLE consents;
DROP TABLE auth_codes;
DROP TABLE sessions;
