#!/usr/bin/python3
"""Makes the extra preprocessing cases under extra/ with Debian's Pillow 9.4 + torchvision 0.14.

Run with /usr/bin/python3 (apt-get install python3-pil python3-numpy python3-torchvision libjpeg-turbo-progs).
For each image <name>.<ext> it writes <name>.<transform>.<size>.npy.gz (sizes 32 and 57; 224 only as a
SHA-256 in manifest.json): the uint8 CHW image that
torchvision hands to ToTensor (transform vtab = Resize((s,s), BICUBIC); fgvc_test = Resize(int(s*256/224))
+ CenterCrop(s)), and <name>.rgb.npy.gz: Pillow's convert('RGB') as uint8 HWC (small images only).
"""
import gzip, hashlib, io, os, struct, subprocess, zlib, json
import numpy as np
from PIL import Image
import torchvision.transforms as T

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "extra")
rng = np.random.default_rng(1234)


def scene(w, h, noise=12.0):
    """A smooth picture with edges and some noise: exercises rounding without compressing badly."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127 + 120 * np.sin(x / max(w, 1) * 5.1 + y / max(h, 1) * 1.3)
    g = 127 + 120 * np.cos(y / max(h, 1) * 4.3 - x / max(w, 1) * 2.0)
    b = np.where((x - w / 3) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 3) ** 2, 230.0, 20.0 + 200 * x / max(w, 1))
    a = np.stack([r, g, b], -1) + rng.normal(0, noise, (h, w, 3))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def png_raw(path, w, h, bitdepth, colortype, rows, trns=None):
    """A PNG written by hand, for the kinds Pillow cannot save (16-bit RGB, 2/4-bit grey)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\x00" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bitdepth, colortype, 0, 0, 0))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)


def save_npy_gz(path, arr):
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr))
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as f:
        f.write(buf.getvalue())


cases = {}


def add(name, make):
    path = os.path.join(OUT, name)
    make(path)
    cases[name] = path


os.makedirs(OUT, exist_ok=True)
# odd sizes, tiny, huge downscale, upscale
add("odd_157x93.png", lambda p: Image.fromarray(scene(157, 93)).save(p))
add("tiny_1x37.png", lambda p: Image.fromarray(scene(1, 37)).save(p))
add("tiny_45x1.png", lambda p: Image.fromarray(scene(45, 1)).save(p))
add("one_1x1.png", lambda p: Image.fromarray(scene(1, 1)).save(p))
add("up_13x9.png", lambda p: Image.fromarray(scene(13, 9, 40)).save(p))
add("huge_2400x1700.jpg", lambda p: Image.fromarray(scene(2400, 1700, 3)).save(p, quality=40))
add("tall_230x1500.jpg", lambda p: Image.fromarray(scene(230, 1500, 6)).save(p, quality=60))
# JPEG kinds
add("sub444_101x77.jpg", lambda p: Image.fromarray(scene(101, 77)).save(p, quality=90, subsampling=0))
add("sub422_101x77.jpg", lambda p: Image.fromarray(scene(101, 77)).save(p, quality=90, subsampling=1))
add("sub420_101x77.jpg", lambda p: Image.fromarray(scene(101, 77)).save(p, quality=90, subsampling=2))
add("progressive_301x211.jpg", lambda p: Image.fromarray(scene(301, 211)).save(p, quality=85, progressive=True))
add("progressive_gray_97x130.jpg", lambda p: Image.fromarray(scene(97, 130)[:, :, 1]).save(p, progressive=True))
add("cmyk_151x99.jpg", lambda p: Image.fromarray(scene(151, 99)).convert("CMYK").save(p, quality=90))
add("cmyk_raw_64x48.jpg", lambda p: Image.fromarray(np.concatenate([scene(64, 48), scene(64, 48)[:, :, :1]], -1), "CMYK").save(p, quality=95))
def exif_rot(p):
    im = Image.fromarray(scene(120, 80)); ex = Image.Exif(); ex[0x0112] = 6; im.save(p, exif=ex.tobytes())
add("exif_rot6_120x80.jpg", exif_rot)
# JPEG kinds Pillow cannot write: cjpeg from libjpeg-turbo-progs (4:4:0, 4:1:1, RGB JPEG, arithmetic, restarts)
def cjpeg(opts):
    def f(p):
        src = p + ".ppm"
        Image.fromarray(scene(45, 61)).save(src)
        subprocess.run(["cjpeg", *opts, "-outfile", p, src], check=True)
        os.remove(src)
    return f
add("cjpeg_440_45x61.jpg", cjpeg(["-sample", "1x2"]))
add("cjpeg_411_45x61.jpg", cjpeg(["-sample", "4x1"]))
add("cjpeg_rgb_45x61.jpg", cjpeg(["-rgb"]))
add("cjpeg_arith_45x61.jpg", cjpeg(["-arithmetic"]))
add("cjpeg_restart_45x61.jpg", cjpeg(["-restart", "1", "-optimize"]))
# PNG kinds
add("gray16_90x70.png", lambda p: Image.fromarray((scene(90, 70)[:, :, 0].astype(np.uint16) * 3)).save(p))  # values to 765: clipping
def rgb16(p):
    a = scene(61, 47).astype(np.uint16) * 257 + rng.integers(0, 257, (47, 61, 3)).astype(np.uint16)
    png_raw(p, 61, 47, 16, 2, [r.astype(">u2").tobytes() for r in a])
add("rgb16_61x47.png", rgb16)
def rgba16(p):
    a = scene(40, 33).astype(np.uint16) * 257 + 100
    al = rng.integers(0, 65536, (33, 40, 1)).astype(np.uint16)
    png_raw(p, 40, 33, 16, 6, [r.astype(">u2").tobytes() for r in np.concatenate([a, al], -1)])
add("rgba16_40x33.png", rgba16)
def la16(p):
    a = np.stack([scene(37, 29)[:, :, 0].astype(np.uint16) * 257, rng.integers(0, 65536, (29, 37)).astype(np.uint16)], -1)
    png_raw(p, 37, 29, 16, 4, [r.astype(">u2").tobytes() for r in a])
add("la16_37x29.png", la16)
add("la_83x61.png", lambda p: Image.fromarray(np.stack([scene(83, 61)[:, :, 2], rng.integers(0, 256, (61, 83)).astype(np.uint8)], -1), "LA").save(p))
def palette_trns(p):
    im = Image.fromarray(scene(77, 55)).quantize(64)
    im.info["transparency"] = 3
    im.save(p, transparency=3)
add("palette_trns_77x55.png", palette_trns)
def palette_alpha(p):
    im = Image.fromarray(scene(66, 44)).quantize(16)
    im.save(p, transparency=bytes(range(0, 256, 16)))
add("palette_alpha_66x44.png", palette_alpha)
add("palette_2bit_50x30.png", lambda p: Image.fromarray(scene(50, 30)).quantize(4).save(p, bits=2))
add("gray1bit_33x21.png", lambda p: Image.fromarray(scene(33, 21)[:, :, 0]).convert("1").save(p))
def gray_low(bits):
    def f(p):
        v = scene(35, 23)[:, :, 0] >> (8 - bits)
        rows = []
        for r in v:
            bitsstr = "".join(format(int(x), "0%db" % bits) for x in r)
            bitsstr += "0" * (-len(bitsstr) % 8)
            rows.append(int(bitsstr, 2).to_bytes(len(bitsstr) // 8, "big"))
        png_raw(p, 35, 23, bits, 0, rows)
    return f
add("gray2bit_35x23.png", gray_low(2))
add("gray4bit_35x23.png", gray_low(4))
add("rgb_trns_70x50.png", lambda p: Image.fromarray(scene(70, 50)).save(p, transparency=(10, 20, 30)))
add("gray_trns_70x50.png", lambda p: Image.fromarray(scene(70, 50)[:, :, 0]).save(p, transparency=7))
add("rgba_interlaced_59x41.png", lambda p: Image.fromarray(np.concatenate([scene(59, 41), scene(59, 41)[:, :, :1]], -1), "RGBA").save(p))
# other formats ImageIO reads
add("bmp_45x31.bmp", lambda p: Image.fromarray(scene(45, 31)).save(p))
add("gif_52x36.gif", lambda p: Image.fromarray(scene(52, 36)).save(p))

SIZES = (32, 57)  # stored whole; 224 is stored as a SHA-256 of the uint8 CHW bytes (keeps the set small)
manifest = {}
hashes = {}
for name, path in sorted(cases.items()):
    im = Image.open(path)
    manifest[name] = {"mode": im.mode, "size": list(im.size)}
    rgb = im.convert("RGB")
    base = os.path.join(OUT, name.rsplit(".", 1)[0])
    if rgb.size[0] * rgb.size[1] <= 200 * 200:
        save_npy_gz(base + ".rgb.npy.gz", np.asarray(rgb))
    for s in SIZES:
        vt = T.Resize((s, s), interpolation=T.InterpolationMode.BICUBIC)(rgb)
        fg = T.CenterCrop(s)(T.Resize(int(s * 256 / 224))(rgb))
        save_npy_gz(base + ".vtab.%d.npy.gz" % s, np.asarray(vt).transpose(2, 0, 1))
        save_npy_gz(base + ".fgvc_test.%d.npy.gz" % s, np.asarray(fg).transpose(2, 0, 1))
    vt = T.Resize((224, 224), interpolation=T.InterpolationMode.BICUBIC)(rgb)
    fg = T.CenterCrop(224)(T.Resize(256)(rgb))
    hashes[name] = {t: hashlib.sha256(np.ascontiguousarray(np.asarray(a).transpose(2, 0, 1)).tobytes()).hexdigest()
                    for t, a in (("vtab", vt), ("fgvc_test", fg))}
json.dump({"pillow": Image.__version__, "images": manifest, "sha256_224": hashes}, open(os.path.join(OUT, "manifest.json"), "w"), indent=1, sort_keys=True)
print(json.dumps(manifest))
