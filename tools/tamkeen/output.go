package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tamkeen/tamkeen/libs/config"
)

// outputFlag is the -o flag of every listing command: a table for people
// (the default) or JSON for scripts. A command's config embeds it, and
// parseFlags checks it with the other flags.
type outputFlag struct {
	Output string `flag:"o" env:"OUTPUT" default:"table" usage:"output format: table or json"`
}

// checkOutput reports the configuration error of an unknown format.
func (o outputFlag) checkOutput() error {
	switch o.Output {
	case "", "table", "json":
		return nil
	}
	return configProblem("o", `must be "table" or "json"`)
}

// asJSON reports whether the command prints JSON.
func (o outputFlag) asJSON() bool { return o.Output == "json" }

// parseFlags loads cfg from args and the environment, as every command
// does, and checks its -o flag where it has one: the prologue of every
// command, before it opens anything.
func parseFlags(cfg any, name string, args []string, lookupEnv func(string) (string, bool), stderr io.Writer) error {
	if err := config.Parse(cfg, name, args, lookupEnv, stderr); err != nil {
		return err
	}
	if o, ok := cfg.(interface{ checkOutput() error }); ok {
		return o.checkOutput()
	}
	return nil
}

// writeJSON prints v as indented JSON and a newline: what -o json prints,
// one document per command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// listing is how a listing command prints items of type T: a table with
// a row per item for people, or with -o json one JSON array of the items.
type listing[T any] struct {
	header []string
	row    func(T) []string
	// json is an item as -o json prints it.
	json func(T) any
	// empty, when set, is the line printed under an empty table.
	empty string
}

// print prints items as a table or, with asJSON, as JSON (an empty list
// is []).
func (l listing[T]) print(w io.Writer, asJSON bool, items []T) error {
	if asJSON {
		out := make([]any, 0, len(items))
		for _, it := range items {
			out = append(out, l.json(it))
		}
		return writeJSON(w, out)
	}
	return l.table(w, items)
}

// table prints items as a table.
func (l listing[T]) table(w io.Writer, items []T) error {
	rows := make([][]string, 0, len(items))
	for _, it := range items {
		rows = append(rows, l.row(it))
	}
	if err := writeTable(w, l.header, rows); err != nil {
		return err
	}
	if len(items) == 0 && l.empty != "" {
		fmt.Fprintln(w, l.empty)
	}
	return nil
}

// writeTable prints header and rows as columns two spaces apart: the
// layout of every listing the tool prints.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range append([][]string{header}, rows...) {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
