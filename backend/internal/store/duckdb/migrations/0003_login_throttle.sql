-- Failed sign-ins per key (pair:email|ip, email:…, ip:…), shared by every
-- process that serves the database, and what admins list and lift.
CREATE TABLE login_throttle (
    key          VARCHAR PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);
