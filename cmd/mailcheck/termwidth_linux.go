package main

import "golang.org/x/sys/unix"

// terminalColumns asks the terminal behind fd for its width (TIOCGWINSZ);
// 0 when it does not say.
func terminalColumns(fd uintptr) int {
	ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
