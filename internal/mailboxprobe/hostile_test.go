package mailboxprobe_test

import (
	"bufio"
	"net"
)

// floodCapability greets, then answers CAPABILITY with untagged lines
// that never end.
func floodCapability(c net.Conn, done <-chan struct{}) {
	c.Write([]byte("* OK ready\r\n"))
	bufio.NewReader(c).ReadString('\n')
	w := bufio.NewWriter(c)
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		if _, err := w.WriteString("* CAPABILITY IMAP4rev1 STARTTLS\r\n"); err != nil {
			return
		}
		if i%64 == 0 && w.Flush() != nil {
			return
		}
	}
}
