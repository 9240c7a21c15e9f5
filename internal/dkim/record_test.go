package dkim

import (
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Test keys (public halves only), generated with openssl for these tests.
const (
	rsa512SPKI   = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMj2NGMPvaOGr1fY3KrDbk1PqS1Jg+5PzP2C+zT8GaV+SGgYoAv1HHARuFHX9cZdSy/802CLbZnhdxFICBCbMOsCAwEAAQ=="
	rsa1024PKCS1 = "MIGJAoGBANa8B3SxWzeUJi0vA4mnRHuWpJf7o5raLTHk9lxag+QaxbzyRlnCC8ziI2nDI2hO0zIbFdn0qVzSZTHSaEM9QYbu9y3LR+JSnoIvOUwnxlfpLwooDa/JPFGRYiOKKTgExzj6+/LUdeQJKBHGfabg+rvPlD1/4ypofBM7L7ZCT4+7AgMBAAE="
	rsa1024SPKI  = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDWvAd0sVs3lCYtLwOJp0R7lqSX+6Oa2i0x5PZcWoPkGsW88kZZwgvM4iNpwyNoTtMyGxXZ9Klc0mUx0mhDPUGG7vcty0fiUp6CLzlMJ8ZX6S8KKA2vyTxRkWIjiik4BMc4+vvy1HXkCSgRxn2m4Pq7z5Q9f+MqaHwTOy+2Qk+PuwIDAQAB"
	ed25519Raw   = "bExX4GePNzdSGrsGGbVM2rcceGjn4shi1qZvbcad4Z4="
	ed25519SPKI  = "MCowBQYDK2VwAyEAbExX4GePNzdSGrsGGbVM2rcceGjn4shi1qZvbcad4Z4="
	ecP256SPKI   = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+dMfIy1amzE6ZXO2bKwIre8IIZuKGmAORvOmpsVcDyCc0ggGAxNITwR5rFr1QAXqhLeWINvRnizT5SkLkLHvYw=="
	// The demo zone's key (testdata/zones/example.org.zone, mail2026).
	rsa2048SPKI = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAt4h5ZcdRWTNsdc3Aq/RXxFB7wK8yy4nQ2GeRH8xLCGV4hKq/pvcWdJN19o5aFnUjPzqNiMMamFRAEi+W6qSEDM6d6Yzqsje6eIMJMHUJ4SpkY2yAOtSIe6DEJm8IpBykZJvNBN1o+bgMAn0wpUT09CH0Dnie" +
		"TxPZhQOrrTjFptw3tY1LkrRURJ1k5pyEXvmjWC2vf6uE9Hz7uGkxlalWB+9whPIN2dUKWsNFfs1bqoW+t4ViLc35dgWww4qCvBWdAQdWtEZCGlU+Tj1D9Pzmp1fqLoZfDcB3KYOr3vPEpk2ecX2EHLZVN740cGkhgMqI6DCaceAGLnc70ht++YMktwIDAQAB"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		txt     string
		errTag  string // "" and errSub "": no error expected
		errSub  string
		check   func(t *testing.T, r *Record)
		warnSub string // a warning containing this
	}{
		{name: "minimal", txt: "p=" + rsa2048SPKI, check: func(t *testing.T, r *Record) {
			if r.KeyType != "rsa" || r.Version != "" || r.HashAlgs != nil || r.Services != nil || r.Flags != nil || !r.ForEmail() || r.Testing() || r.Revoked() {
				t.Errorf("defaults wrong: %+v", r)
			}
		}},
		{name: "full", txt: " v = DKIM1 ; k=rsa;\th=sha1 : sha256; s=email:*; t=y:s; n=a note; x_ext=1; p=" + rsa1024SPKI + ";", check: func(t *testing.T, r *Record) {
			if r.Version != "DKIM1" || !slices.Equal(r.HashAlgs, []string{"sha1", "sha256"}) || r.SHA1Only() ||
				!slices.Equal(r.Services, []string{"email", "*"}) || !r.Testing() || !r.Strict() || r.Notes != "a note" || len(r.Warnings) != 0 {
				t.Errorf("got %+v", r)
			}
			if len(r.Tags) != 8 || r.Tags[6] != (Tag{"x_ext", "1"}) {
				t.Errorf("tags %q", r.Tags)
			}
		}},
		{name: "folded base64", txt: "v=DKIM1; p=" + rsa2048SPKI[:100] + "\r\n\t " + rsa2048SPKI[100:], check: func(t *testing.T, r *Record) {
			if r.PublicKey != rsa2048SPKI {
				t.Errorf("whitespace kept in p=")
			}
		}},
		{name: "revoked", txt: "v=DKIM1; k=rsa; p=", check: func(t *testing.T, r *Record) {
			if !r.Revoked() {
				t.Error("not revoked")
			}
			if _, err := r.Key(); !errors.Is(err, ErrRevoked) {
				t.Errorf("Key() = %v", err)
			}
		}},
		{name: "sha1 only", txt: "h=sha1; p=x", check: func(t *testing.T, r *Record) {
			if !r.SHA1Only() {
				t.Error("not sha1-only")
			}
		}},
		{name: "unknown hash beside sha256", txt: "h=sha512:sha256; p=x", check: func(t *testing.T, r *Record) {
			if r.SHA1Only() {
				t.Error("sha1-only")
			}
		}},
		{name: "tlsrpt only", txt: "s=tlsrpt; p=x", check: func(t *testing.T, r *Record) {
			if r.ForEmail() {
				t.Error("for email")
			}
		}},
		{name: "v not first", txt: "k=rsa; v=DKIM1; p=x", warnSub: "must be the first tag"},
		{name: "g=", txt: "v=DKIM1; g=jl*g; p=x", warnSub: "granularity"},
		{name: "g=* is fine", txt: "v=DKIM1; g=*; p=x", check: func(t *testing.T, r *Record) {
			if len(r.Warnings) != 0 {
				t.Errorf("warnings %q", r.Warnings)
			}
		}},
		{name: "unknown flag", txt: "t=q; p=x", warnSub: `unknown flag "q"`},
		{name: "empty element", txt: "v=DKIM1;; p=x", warnSub: "empty element at position 2"},
		{name: "escaped semicolons", txt: `v=DKIM1\; k=rsa\; p=x`, errTag: "v", errSub: "backslash-escaped"},
		{name: "escaped semicolons, no v=", txt: `k=rsa\; p=x`, errTag: "k", errSub: "backslash-escaped"},
		{name: "bad version", txt: "v=DKIM2; p=x", errTag: "v", errSub: `"DKIM2" is not a DKIM key record version`},
		{name: "version with colon (dkimpy badversion)", txt: "v=DKIM1: g=*; k=rsa; p=x", errTag: "v"},
		{name: "spf record", txt: "v=spf1 -all", errTag: "v"},
		{name: "no p", txt: "v=DKIM1; k=rsa", errTag: "p", errSub: "no p= tag"},
		{name: "unknown k", txt: "k=ed25519-sha256; p=x", errTag: "k", errSub: `write "k=ed25519"`},
		{name: "k with hash", txt: "k=rsa-sha256; p=x", errTag: "k", errSub: "h=sha256"},
		{name: "empty k", txt: "k=; p=x", errTag: "k"},
		{name: "h without known algorithm", txt: "h=md5; p=x", errTag: "h"},
		{name: "duplicate tag", txt: "p=x; k=rsa; p=y", errTag: "p", errSub: "more than once"},
		{name: "not a tag list", txt: "hello world", errSub: `"hello world" is not a tag=value pair`},
		{name: "bad tag name", txt: "1v=DKIM1; p=x", errSub: `"1v" is not a valid tag name`},
		{name: "empty tag name", txt: "=x; p=x", errSub: "empty name"},
		{name: "non-ASCII value", txt: "n=caf\u00e9; p=x", errTag: "n", errSub: "non-ASCII octet 0xC3 at offset 3 is not allowed in a tag value (printable ASCII only"},
		{name: "control character", txt: "p=ab\x00cd", errTag: "p", errSub: `character '\x00' at offset 2`},
		{name: "huge", txt: "p=" + strings.Repeat("A", MaxRecordLen), errSub: "octets long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.txt)
			if tc.errTag != "" || tc.errSub != "" {
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
					t.Fatalf("Parse() = %+v, %v; want a *SyntaxError", r, err)
				}
				if se.Tag != tc.errTag || !strings.Contains(se.Error(), tc.errSub) {
					t.Fatalf("error %q (tag %q), want tag %q and %q", se, se.Tag, tc.errTag, tc.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.warnSub != "" && !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, tc.warnSub) }) {
				t.Errorf("warnings %q lack %q", r.Warnings, tc.warnSub)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestRecordWith(t *testing.T) {
	r, err := Parse("v=DKIM1; t=y; p=abc")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, value string
		remove      bool
		want        string
	}{
		{"t", "", true, "v=DKIM1; p=abc"},
		{"t", "s", false, "v=DKIM1; t=s; p=abc"},
		{"h", "sha256", false, "v=DKIM1; t=y; h=sha256; p=abc"},
		{"x", "", true, "v=DKIM1; t=y; p=abc"},
	} {
		if got := FormatTags(r.With(tc.name, tc.value, tc.remove)); got != tc.want {
			t.Errorf("With(%q, %q, %v) = %q, want %q", tc.name, tc.value, tc.remove, got, tc.want)
		}
	}
	if r.String() != "v=DKIM1; t=y; p=abc" {
		t.Errorf("record changed: %q", r)
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name     string
		keyType  string
		p        string
		wantType string
		bits     int
		form     string
		errSub   string
	}{
		{"rsa 2048 SPKI", "rsa", rsa2048SPKI, "rsa", 2048, FormSPKI, ""},
		{"rsa 1024 SPKI", "rsa", rsa1024SPKI, "rsa", 1024, FormSPKI, ""},
		{"rsa 1024 bare RSAPublicKey", "rsa", rsa1024PKCS1, "rsa", 1024, FormPKCS1, ""},
		{"rsa 512 still measured", "rsa", rsa512SPKI, "rsa", 512, FormSPKI, ""},
		{"ed25519 raw", "ed25519", ed25519Raw, "ed25519", 256, FormRaw, ""},
		{"ed25519 in SPKI under k=ed25519", "ed25519", ed25519SPKI, "", 0, "", "wrapped in SubjectPublicKeyInfo"},
		{"ed25519 SPKI under k=rsa", "rsa", ed25519SPKI, "", 0, "", "holds an Ed25519 key but k= says rsa"},
		{"ed25519 raw under k=rsa", "rsa", ed25519Raw, "", 0, "", "add k=ed25519"},
		{"EC key", "rsa", ecP256SPKI, "", 0, "", "elliptic-curve"},
		{"rsa key under k=ed25519", "ed25519", rsa1024SPKI, "", 0, "", "an Ed25519 key is 32 octets, p= decodes to 162"},
		{"truncated", "rsa", rsa2048SPKI[:200], "", 0, "", "neither a SubjectPublicKeyInfo"},
		{"garbage", "rsa", base64.StdEncoding.EncodeToString([]byte("hello, world")), "", 0, "", "neither"},
		{"bad base64 (dkimpy test_bad)", "rsa", rsa1024SPKI[:len(rsa1024SPKI)-4] + "QA=", "", 0, "", "not valid base64"},
		{"rsa without base64 padding", "rsa", strings.TrimRight(rsa1024PKCS1, "="), "", 0, "", `p= lacks the "=" padding at the end of its base64, so verifiers reject it (with the padding it is a valid RSA 1024-bit key)`},
		{"ed25519 without base64 padding", "ed25519", strings.TrimRight(ed25519Raw, "="), "", 0, "", "with the padding it is a valid Ed25519 key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Record{KeyType: tc.keyType, PublicKey: tc.p}
			k, err := r.Key()
			if tc.errSub != "" {
				if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("Key() = %+v, %v; want ErrKey with %q", k, err, tc.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Type != tc.wantType || k.Bits != tc.bits || k.Form != tc.form {
				t.Fatalf("got %s %d %s", k.Type, k.Bits, k.Form)
			}
			switch pub := k.Public.(type) {
			case *rsa.PublicKey:
				if pub.N.BitLen() != tc.bits || pub.E != 65537 {
					t.Errorf("public key %d bits e=%d", pub.N.BitLen(), pub.E)
				}
			case ed25519.PublicKey:
				if len(pub) != 32 {
					t.Errorf("ed25519 key of %d octets", len(pub))
				}
			default:
				t.Errorf("public key type %T", pub)
			}
		})
	}
}

func TestPaddedKey(t *testing.T) {
	for _, tc := range []struct {
		name, keyType, p, want string
	}{
		{"one = missing", "rsa", strings.TrimRight(rsa1024PKCS1, "="), rsa1024PKCS1},
		{"ed25519", "ed25519", strings.TrimRight(ed25519Raw, "="), ed25519Raw},
		{"already padded", "rsa", rsa1024PKCS1, ""},
		{"no padding needed", "rsa", rsa2048SPKI, ""},
		{"padding does not make a key", "rsa", strings.TrimRight(rsa1024PKCS1, "=")[:len(rsa1024PKCS1)-5], ""},
		{"revoked", "rsa", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&Record{KeyType: tc.keyType, PublicKey: tc.p}).PaddedKey(); got != tc.want {
				t.Errorf("PaddedKey() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckSelector(t *testing.T) {
	for in, want := range map[string]string{
		"Selector1": "selector1", " s1 ": "s1", "2026-11.mail": "2026-11.mail", "a_b": "a_b",
		"": "", "a..b": "", "bad selector": "", "x/y": "", strings.Repeat("a", 64): "", "é": "",
	} {
		got, err := CheckSelector(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("CheckSelector(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	list, bad := Selectors([]string{"Google", "custom", "bad one", "CUSTOM"}, true)
	if len(bad) != 1 || list[0] != "google" || list[1] != "custom" || len(list) != len(Builtin)+1 {
		t.Errorf("Selectors = %q, %v", list, bad)
	}
	if l, _ := Selectors(nil, false); len(l) != 0 {
		t.Errorf("no builtin: %q", l)
	}
}
