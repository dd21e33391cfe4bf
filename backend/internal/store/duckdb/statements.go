package duckdb

import (
	"context"
	"database/sql"
	"fmt"
)

// statements are prepared once on the pool; database/sql re-uses each on
// every connection it was prepared on, the writer's included, which saves
// DuckDB's ~100 µs of parsing and planning per hot statement.
type statements struct {
	all []*sql.Stmt

	userByID, userByEmail, insertUser, updateEmail, updatePassword, updateRole, deleteUser, countAdmins *sql.Stmt

	tokenByHash, successorCount, revokeFamily, revokeUserTokens, revokeToken *sql.Stmt

	insertAudit *sql.Stmt
}

const userColumns = "id, email, password_hash, role, created_at, updated_at"

// preparer is a pool (*sql.DB, for reads) or the writer's *sql.Conn.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func prepare(ctx context.Context, db preparer) (*statements, error) {
	st := &statements{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.userByID, "SELECT " + userColumns + " FROM users WHERE id = ?"},
		{&st.userByEmail, "SELECT " + userColumns + " FROM users WHERE email = ?"},
		{&st.insertUser, "INSERT INTO users (" + userColumns + ") VALUES (?, ?, ?, ?, ?, ?)"},
		{&st.updateEmail, "UPDATE users SET email = ?, updated_at = ? WHERE id = ?"},
		{&st.updatePassword, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?"},
		{&st.updateRole, "UPDATE users SET role = ?, updated_at = ? WHERE id = ?"},
		{&st.deleteUser, "DELETE FROM users WHERE id = ?"},
		// The role is a parameter on purpose: with the literal 'admin' in a
		// prepared statement, DuckDB 1.5.6 answered a stale count inside
		// later transactions (seen in TestLastAdminCannotBeDemotedOrDeleted).
		{&st.countAdmins, "SELECT count(*) FROM users WHERE role = ?"},

		{&st.tokenByHash, "SELECT id, family_id, user_id, status, expires_at FROM refresh_tokens WHERE token_hash = ?"},
		{&st.successorCount, "SELECT count(*) FROM refresh_tokens WHERE parent_id = ?"},
		{&st.revokeFamily, "UPDATE refresh_tokens SET status = 'revoked', revoked_at = coalesce(revoked_at, ?) WHERE family_id = ?"},
		{&st.revokeToken, "UPDATE refresh_tokens SET status = 'revoked', revoked_at = coalesce(revoked_at, ?) WHERE id = ?"},
		{&st.revokeUserTokens, "UPDATE refresh_tokens SET status = 'revoked', revoked_at = coalesce(revoked_at, ?) WHERE user_id = ?"},

		{&st.insertAudit, `INSERT INTO audit_log (id, occurred_at, actor_id, action, target_id, detail, request_id, actor_email, target_email)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		stmt, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("store: prepare %q: %w", p.query, err)
		}
		*p.dst = stmt
		st.all = append(st.all, stmt)
	}
	return st, nil
}

func (st *statements) close() {
	for _, s := range st.all {
		_ = s.Close()
	}
}
