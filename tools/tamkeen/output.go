package main

import (
	"encoding/json"
	"io"
)

// outputFlag is the -o flag of every listing command: a table for people
// (the default) or JSON for scripts.
type outputFlag struct {
	Output string `flag:"o" env:"OUTPUT" default:"table" usage:"output format: table or json"`
}

// json reports whether the command prints JSON, or the configuration
// error of an unknown format.
func (o outputFlag) json() (bool, error) {
	switch o.Output {
	case "", "table":
		return false, nil
	case "json":
		return true, nil
	}
	return false, configProblem("o", `must be "table" or "json"`)
}

// writeJSON prints v as indented JSON and a newline: what -o json prints,
// one document per command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
