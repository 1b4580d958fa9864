module github.com/gonmf/gonmf

go 1.26

require (
	github.com/apache/arrow/go/v17 v17.0.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)
