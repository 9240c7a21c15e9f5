package main

func spfMain(args []string) {}
