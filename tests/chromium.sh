# Headless Chromium for the tests of benchmon report (t15xx): open a page with the network cut
# off, and read back what it did. Source after lib.sh.

# chromium_open FILE PREFIX: load FILE in headless Chromium, writing PREFIX.dom (the DOM
# after load), PREFIX.err (Chromium's log, console messages included), PREFIX.net.json (its
# net log: every request it made) and PREFIX.png (a 1280x2000 screenshot). Every request
# goes to a proxy that is not there and every name fails to resolve, so nothing leaves
# the machine whatever the page asks for.
chromium_open() {
	local file=$1 prefix=$2 url
	url="file://$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
	set -- --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
		--disable-background-networking --disable-component-update --disable-sync \
		--proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" \
		--enable-logging=stderr --v=0 --hide-scrollbars --window-size=1280,2000
	rm -rf "$prefix.profile" &&
	timeout 180 chromium "$@" --user-data-dir="$prefix.profile" --log-net-log="$prefix.net.json" \
		--dump-dom "$url" >"$prefix.dom" 2>"$prefix.err" &&
	rm -rf "$prefix.profile" &&
	timeout 180 chromium "$@" --user-data-dir="$prefix.profile" --screenshot="$prefix.png" \
		"$url" >/dev/null 2>"$prefix.shot.err" &&
	rm -rf "$prefix.profile"
}

# page_requests PREFIX: print every request the page made (not Chromium's own, which
# carry no page as their network isolation key), one URL a line
page_requests() {
	python3 - "$1.net.json" <<-\PY
	import json, sys
	log = json.load(open(sys.argv[1]))
	names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
	for e in log["events"]:
	    p = e.get("params", {})
	    if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "file://" in p.get("network_isolation_key", ""):
	        print(p["url"])
	PY
}

# console_messages PREFIX: the page's console messages and uncaught errors, one a line
console_messages() {
	grep ':CONSOLE' "$1.err" || :
}

# png_check PNG WIDTH HEIGHT MIN_COLOURS MIN_INK_PCT: the screenshot has that size, at least
# that many distinct colours and at least that share of pixels that are not the background
png_check() {
	python3 - "$@" <<-\PY
	import struct, sys, zlib
	path, want_w, want_h, min_colours, min_ink = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
	data = open(path, "rb").read()
	assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
	pos, idat = 8, b""
	while pos < len(data):
	    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
	    body = data[pos + 8:pos + 8 + n]
	    if kind == b"IHDR":
	        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
	    elif kind == b"IDAT":
	        idat += body
	    pos += 12 + n
	assert (w, h) == (want_w, want_h), (w, h)
	assert depth == 8 and ctype in (2, 6), (depth, ctype)
	bpp = 3 if ctype == 2 else 4
	raw, stride = zlib.decompress(idat), w * bpp
	prev, rows, at = bytearray(stride), [], 0
	for y in range(h):
	    f, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
	    at += 1 + stride
	    if f == 1:
	        for i in range(bpp, stride): line[i] = (line[i] + line[i - bpp]) & 255
	    elif f == 2:
	        line = bytearray((a + b) & 255 for a, b in zip(line, prev))
	    elif f == 3:
	        for i in range(stride): line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
	    elif f == 4:
	        for i in range(stride):
	            a = line[i - bpp] if i >= bpp else 0
	            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
	            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
	            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
	    rows.append(bytes(line))
	    prev = line
	colours, ink = {}, 0
	for line in rows:
	    for x in range(0, stride, bpp):
	        px = line[x:x + 3]
	        colours[px] = colours.get(px, 0) + 1
	background = max(colours, key=colours.get)
	ink = 100.0 * (w * h - colours[background]) / (w * h)
	print("%dx%d, %d colours, %.1f%% ink" % (w, h, len(colours), ink))
	assert len(colours) >= min_colours, "only %d colours" % len(colours)
	assert ink >= min_ink, "only %.1f%% of the pixels are not the background" % ink
	PY
}
