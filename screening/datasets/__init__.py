"""Loaders for public X-ray datasets (SIXray, PIDray, OPIXray, HiXray, GDXray, YOLO) as our labels."""

from __future__ import annotations

from screening.datasets._common import DatasetSkipWarning, OnError, Options
from screening.datasets.annotation import Annotation
from screening.datasets.coco import load_coco
from screening.datasets.detect import FORMATS, detect_format, load_dataset
from screening.datasets.gdxray import load_gdxray, parse_gdxray_ground_truth
from screening.datasets.labels import DEFAULT_LABEL_MAP, LabelMap, normalise_name
from screening.datasets.voc import load_voc, parse_voc_xml
from screening.datasets.xray_txt import load_hixray, load_opixray, parse_xray_txt
from screening.datasets.yolo import load_yolo, parse_yolo_txt, read_class_names

__all__ = [
    "DEFAULT_LABEL_MAP",
    "FORMATS",
    "Annotation",
    "DatasetSkipWarning",
    "LabelMap",
    "OnError",
    "Options",
    "detect_format",
    "load_coco",
    "load_dataset",
    "load_gdxray",
    "load_hixray",
    "load_opixray",
    "load_voc",
    "load_yolo",
    "normalise_name",
    "parse_gdxray_ground_truth",
    "parse_voc_xml",
    "parse_xray_txt",
    "parse_yolo_txt",
    "read_class_names",
]
