package findings

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCatalogKeepsDeclarationOrder(t *testing.T) {
	var c Catalog
	a := c.Add(Spec{ID: "x.a", Severity: Pass})
	b := c.Add(Spec{ID: "x.b", Severity: Fail})
	got := c.Specs()
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("Specs() = %+v", got)
	}
	got[0].ID = "changed"
	if c.Specs()[0].ID != "x.a" {
		t.Error("Specs() shares the catalog's storage")
	}
}

func TestFindingBounds(t *testing.T) {
	spec := Spec{ID: "x.many", Severity: Warn, RFC: "RFC 1"}
	recs := make([]string, 100)
	for i := range recs {
		recs[i] = "rec"
	}
	f := spec.New("line one\nline two \x1b[2J").WithRecords(recs...).WithRecords("more")
	if len(f.Records) != MaxRecords || f.RecordsOmitted != 100-MaxRecords+1 {
		t.Fatalf("%d records, %d omitted", len(f.Records), f.RecordsOmitted)
	}
	b := f.WithFix("%s", strings.Repeat("y", 2*MaxFixBytes)).Bounded()
	if strings.ContainsRune(b.Message, 0x1b) || !strings.Contains(b.Message, "\n") || len(b.Fix) > MaxFixBytes {
		t.Errorf("Bounded: message %q, fix %d bytes", b.Message, len(b.Fix))
	}
	var doc map[string]any
	j, _ := json.Marshal(Spec{ID: "x.none"}.New("m"))
	if json.Unmarshal(j, &doc); doc["records"] == nil {
		t.Errorf("records must be [] in JSON, got %s", j)
	}
}

func TestSeverityRank(t *testing.T) {
	order := []Severity{Pass, Info, Warn, Error, Fail}
	for i, s := range order {
		if s.Rank() != i || !s.Valid() {
			t.Errorf("%s: rank %d", s, s.Rank())
		}
	}
	if Severity("bogus").Valid() {
		t.Error("bogus severity is valid")
	}
}
