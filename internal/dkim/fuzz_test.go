package dkim

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the key-record parser. It must never
// panic; a record it accepts must survive a format/parse round trip
// unchanged, and a key it accepts must have a sane size.
// Seeds: below, plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"v=DKIM1; k=rsa; p=" + rsa2048SPKI,
		"v=DKIM1; k=rsa; p=" + rsa1024PKCS1,
		"v=DKIM1; k=ed25519; p=" + ed25519Raw,
		"v=DKIM1; k=ed25519; p=" + ed25519SPKI,
		"k=rsa; p=" + ecP256SPKI,
		"v=DKIM1; h=sha1:sha256; s=email:*; t=y:s; n=notes; p=",
		"v=DKIM1;; g=*; p=" + rsa512SPKI,
		`v=DKIM1\; k=rsa\; p=abc`,
		"p=a=b; x_y=1;",
		"v=DKIM1: g=*; k=rsa; p=x",
		"k=ed25519-sha256; p=x",
		"p=x; p=y",
		"=",
		";",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if r != nil {
				t.Fatalf("record %+v returned with error %v", r, err)
			}
			return
		}
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("%q parsed, but its rendering %q does not: %v", s, r.String(), err)
		}
		if !slices.Equal(again.Tags, r.Tags) || again.KeyType != r.KeyType || again.PublicKey != r.PublicKey ||
			!slices.Equal(again.Flags, r.Flags) || !slices.Equal(again.HashAlgs, r.HashAlgs) || !slices.Equal(again.Services, r.Services) {
			t.Fatalf("round trip changed %+v into %+v", r, again)
		}
		if strings.ContainsAny(r.PublicKey, " \t\r\n") {
			t.Fatalf("whitespace left in p=%q", r.PublicKey)
		}
		k, err := r.Key()
		if err != nil {
			return
		}
		switch k.Type {
		case "rsa":
			if k.Bits < 1 || k.Bits > MaxRSABits || k.Public == nil || (k.Form != FormSPKI && k.Form != FormPKCS1) {
				t.Fatalf("rsa key %+v", k)
			}
		case "ed25519":
			if k.Bits != 256 || k.Form != FormRaw {
				t.Fatalf("ed25519 key %+v", k)
			}
		default:
			t.Fatalf("key type %q", k.Type)
		}
	})
}

// FuzzParseKey feeds arbitrary DER to the key decoder for both key types.
func FuzzParseKey(f *testing.F) {
	for _, p := range []string{rsa2048SPKI, rsa1024PKCS1, rsa512SPKI, ed25519Raw, ed25519SPKI, ecP256SPKI} {
		b, _ := base64.StdEncoding.DecodeString(p)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, der []byte, ed bool) {
		kt := "rsa"
		if ed {
			kt = "ed25519"
		}
		k, err := ParseKey(kt, der)
		if (k == nil) == (err == nil) {
			t.Fatalf("ParseKey = %v, %v", k, err)
		}
		if k != nil && (k.Type != kt || k.Bits <= 0) {
			t.Fatalf("key %+v for k=%s", k, kt)
		}
	})
}
