"""`tf.gfile`: the file helpers TF1 programs call, on the local file system."""

import glob as _glob
import os
import shutil

GFile = open
Open = open


def Exists(path) -> bool:
    return os.path.exists(path)


def IsDirectory(path) -> bool:
    return os.path.isdir(path)


def MakeDirs(path) -> None:
    os.makedirs(path, exist_ok=True)


def MkDir(path) -> None:
    os.mkdir(path)


def DeleteRecursively(path) -> None:
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def Remove(path) -> None:
    os.remove(path)


def Rename(source, target, overwrite=False) -> None:
    if not overwrite and os.path.exists(target):
        raise FileExistsError(target)
    os.replace(source, target)


def Copy(source, target, overwrite=False) -> None:
    if not overwrite and os.path.exists(target):
        raise FileExistsError(target)
    shutil.copyfile(source, target)


def ListDirectory(path) -> list:
    return os.listdir(path)


def Glob(pattern) -> list:
    return _glob.glob(pattern)
