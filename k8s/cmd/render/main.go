// Command render prints a kustomization (an overlay directory) rendered by
// k8s.Render — the Kustomize library `kubectl kustomize` embeds, at the
// version k8s/go.mod pins — as one JSON v1 List (`kubectl apply -f`
// accepts it). Tests outside this module run it with
// `go run ./k8s/cmd/render k8s/overlays/prod` rather than depend on the
// Kustomize library or an installed kubectl.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/tamkeen/tamkeen/k8s"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: render <kustomization directory>")
		os.Exit(2)
	}
	objs, err := k8s.Render(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	list := struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}{APIVersion: "v1", Kind: "List", Items: make([]json.RawMessage, 0, len(objs))}
	for _, o := range objs {
		list.Items = append(list.Items, json.RawMessage(o))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(list); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(buf.Bytes()); err != nil {
		os.Exit(1)
	}
}
