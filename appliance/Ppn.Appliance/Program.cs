using Ppn.Appliance;

return Entry.Run(args);
