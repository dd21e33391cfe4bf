package model

import "time"

// Backup describes a snapshot of the database written while serving.
type Backup struct {
	Path          string
	At            time.Time
	Bytes         int64
	SchemaVersion int
}
