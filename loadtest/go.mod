module github.com/duckgate/duckgate/loadtest

go 1.26.8

require github.com/duckgate/duckgate/shared v0.0.0

require (
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace github.com/duckgate/duckgate/shared => ../shared
