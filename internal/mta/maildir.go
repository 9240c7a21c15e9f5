package mta

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Maildir stores messages in a Maildir: each written under tmp/, synced,
// then renamed into new/. Directories are 0700 and files 0600; a file's
// name comes from the time, random bytes and the host name, never from
// anything the client sent.
type Maildir struct {
	Dir  string
	Host string
}

// Init creates the Maildir's directories (tmp, new, cur) if missing.
func (m *Maildir) Init() error {
	for _, sub := range []string{"", "tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(m.Dir, sub), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// uniqueName is "SECONDS.MmicrosRrandom.host" (the Maildir convention),
// with '/' and ':' in the host name escaped.
func (m *Maildir) uniqueName(now time.Time) string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	host := strings.NewReplacer("/", `\057`, ":", `\072`).Replace(m.Host)
	return fmt.Sprintf("%d.M%dR%s.%s", now.Unix(), now.Nanosecond()/1000, hex.EncodeToString(b), host)
}

// Store writes data as a new message and returns its path under new/.
func (m *Maildir) Store(data []byte, now time.Time) (string, error) {
	name := m.uniqueName(now)
	tmp := filepath.Join(m.Dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	dst := filepath.Join(m.Dir, "new", name)
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return dst, nil
}
