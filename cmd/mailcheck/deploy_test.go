package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// manifests reads every document of deploy/kubernetes, by kind/name.
func manifests(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, _ := filepath.Glob("../../deploy/kubernetes/*.yaml")
	out := map[string]map[string]any{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(f)
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("%s: %v", path, err)
				}
				break
			}
			out[doc["kind"].(string)+"/"+dig(doc, "metadata", "name").(string)] = doc
		}
		f.Close()
	}
	return out
}

// dig follows keys (strings) and indexes (ints) into a decoded document.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestKubernetesManifests: the Indexed Job shards the list by
// JOB_COMPLETION_INDEX, retries per index, runs a validating Unbound
// sidecar from its ConfigMap, reads the list's ConfigMap, writes JSON
// Lines to a volume, and passes flags that mailcheck accepts.
func TestKubernetesManifests(t *testing.T) {
	docs := manifests(t)
	job := docs["Job/mailcheck"]
	spec := dig(job, "spec")
	if dig(spec, "completionMode") != "Indexed" || dig(spec, "backoffLimitPerIndex") == nil {
		t.Errorf("job spec: %v", spec)
	}
	pod := dig(spec, "template", "spec")
	side := dig(pod, "initContainers", 0)
	if dig(side, "restartPolicy") != "Always" || !strings.Contains(str(dig(side, "image")), "unbound") {
		t.Errorf("no Unbound sidecar: %v", side)
	}
	conf := str(dig(docs["ConfigMap/mailcheck-unbound"], "data", "unbound.conf"))
	for _, want := range []string{"validator iterator", "trust-anchor", "127.0.0.1@5353"} {
		if !strings.Contains(conf, want) {
			t.Errorf("unbound.conf lacks %q", want)
		}
	}
	if dig(docs["ConfigMap/mailcheck-domains"], "data", "domains.txt") == nil {
		t.Error("no domain list ConfigMap")
	}
	var volumes []string
	for _, v := range dig(pod, "volumes").([]any) {
		volumes = append(volumes, str(dig(v, "configMap", "name"))+str(dig(v, "persistentVolumeClaim", "claimName")))
	}
	for _, want := range []string{"mailcheck-domains", "mailcheck-unbound", "mailcheck-results"} {
		if !slices.Contains(volumes, want) || docs["ConfigMap/"+want] == nil && docs["PersistentVolumeClaim/"+want] == nil {
			t.Errorf("volume %s missing or not defined (%v)", want, volumes)
		}
	}
	checkJobArgs(t, dig(pod, "containers", 0, "args").([]any), dig(spec, "completions").(int))
}

// checkJobArgs: the shard count matches completions, each shard writes
// and resumes its own file, and mailcheck's flag parser accepts them.
func checkJobArgs(t *testing.T, raw []any, completions int) {
	t.Helper()
	var args []string
	for _, a := range raw {
		args = append(args, strings.ReplaceAll(a.(string), "$(JOB_COMPLETION_INDEX)", "2"))
	}
	for _, want := range []string{fmt.Sprintf("--shard=2/%d", completions), "--output=json=/results/shard-2.jsonl", "--resume=/results/shard-2.jsonl"} {
		if !slices.Contains(args, want) {
			t.Errorf("args lack %s: %v", want, args)
		}
	}
	cmd := newApp(os.Stdout, os.Stderr).rootCmd()
	if err := cmd.ParseFlags(args); err != nil {
		t.Errorf("mailcheck refuses the job's args: %v", err)
	}
	f := &bulkFlags{shardSpec: strings.TrimPrefix(args[slices.IndexFunc(args, func(s string) bool { return strings.HasPrefix(s, "--shard=") })], "--shard="), order: "input"}
	if err := f.validate(); err != nil {
		t.Error(err)
	}
}

// str is v if it is a string, else "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// TestContainerfile: a static binary on scratch with CA roots.
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("../../deploy/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "FROM scratch", "COPY --from=build /etc/ssl/certs/ca-certificates.crt"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
}
