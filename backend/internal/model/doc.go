// Package model holds the backend's domain types (users, sessions, audit
// records, AI usage, video jobs) and its domain errors. It knows no SQL and
// no HTTP: the store engines fill these types, the services apply their
// rules to them, and the HTTP layer's error table turns the errors into
// problem details.
package model
