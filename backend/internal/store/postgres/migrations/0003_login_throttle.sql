-- Failed sign-ins per key (pair:email|ip, email:…, ip:…), shared by every
-- replica, and what admins list and lift (DuckDB's 0003).
CREATE TABLE login_throttle (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);
CREATE INDEX login_throttle_locked_until ON login_throttle (locked_until) WHERE locked_until IS NOT NULL;
