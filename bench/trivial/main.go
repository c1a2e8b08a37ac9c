// Command trivial does nothing: the bench's anchor for how long any Go
// process takes to start and exit on this machine, against which
// `acdledger verify receipt` (one file, process start included) is read.
package main

func main() {}
