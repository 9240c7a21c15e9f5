//go:build linux

package main

func spfMain(args []string) {}
