module github.com/duckgate/duckgate/loadtest

go 1.26.8

require github.com/duckgate/duckgate/shared v0.0.0

replace github.com/duckgate/duckgate/shared => ../shared
