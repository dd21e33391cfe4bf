module github.com/duckgate/duckgate/shared

go 1.26.8
