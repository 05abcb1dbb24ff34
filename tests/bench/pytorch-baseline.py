"""PyTorch's standard classification pipeline on a folder of JPEGs, for the batch benchmark's baseline.

torchvision ImageFolder + DataLoader (2 workers, batch 8), the usual ImageNet transforms (Resize 256,
CenterCrop 224, ToTensor, Normalize), ResNet-50 in eval mode under no_grad: the recipe the batch
issue's reference numbers were taken with. The network's weights do not change its cost, so the
model is torchvision's ResNet-50 architecture without downloading weights (nothing can be
downloaded here).

Usage: python3 pytorch-baseline.py FOLDER [--workers 2] [--batch 8] [--repeat 2]
Prints one JSON object: images, best images/s, every repetition, versions, threads.
Debian bookworm ships PyTorch 1.13 and torchvision 0.14 (apt install python3-torch python3-torchvision).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import torch
import torchvision
from torchvision import datasets, transforms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    # Standard builds use every core for inference; Debian's 1.13 build defaults to one thread.
    torch.set_num_threads(args.threads)

    # ImageFolder wants root/<class>/<image>: one class, linked to the photo folder.
    root = tempfile.mkdtemp(prefix="reslens-pytorch-")
    os.symlink(os.path.abspath(args.folder), os.path.join(root, "photos"))
    transform = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    dataset = datasets.ImageFolder(root, transform=transform)
    model = torchvision.models.resnet50().eval()

    with torch.no_grad():
        model(torch.zeros(args.batch, 3, 224, 224))  # warm-up: allocations, kernel selection
        rates = []
        for _ in range(args.repeat):
            loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, num_workers=args.workers, shuffle=False)
            start = time.perf_counter()
            count = 0
            for images, _labels in loader:
                model(images)
                count += images.shape[0]
            rates.append(count / (time.perf_counter() - start))

    json.dump({
        "images": len(dataset),
        "imagesPerSecond": max(rates),
        "repetitions": rates,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "workers": args.workers,
        "batch": args.batch,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
