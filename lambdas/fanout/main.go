// Command fanout is the fan-out worker. Placeholder until the worker is
// wired (issue "Broadcast at internet scale").
package main

func main() {}
