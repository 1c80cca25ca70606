// The least a Native AOT program does: start the runtime, write one line through Console, exit (as bench/hello.c).
Console.WriteLine("hello 1");
