// Package k8s holds Tamkeen's Kubernetes manifests (base/ and the overlays
// dev, prod and dr) and renders them as `kubectl kustomize` does, for the
// tests here and for TestSecurityParity in tools/tamkeen (through
// cmd/render), which compares the overlays' gateway with `tamkeen dev`.
package k8s

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Render builds the kustomization in dir (e.g. overlays/prod) with the
// Kustomize library that `kubectl kustomize` embeds, default options, and
// returns each object as JSON, in the order Kustomize emits them.
func Render(dir string) ([][]byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	var out [][]byte
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("kustomize %s: %s: %w", dir, res.GetName(), err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			return nil, fmt.Errorf("kustomize %s: %s: %w", dir, res.GetName(), err)
		}
		out = append(out, j)
	}
	return out, nil
}
