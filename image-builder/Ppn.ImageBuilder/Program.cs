return Ppn.ImageBuilder.ImageCli.Run(args);
