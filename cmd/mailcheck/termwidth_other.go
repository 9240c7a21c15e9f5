//go:build !linux

package main

// terminalColumns is 0 where mailcheck does not ask the terminal: the
// width then comes from --width or $COLUMNS, else the default.
func terminalColumns(uintptr) int { return 0 }
