# Sourced by bench/net/traces.sh and pipeline.sh: the ImageNet model on a
# namespace link. Needs JALAD PY MODEL DATA LIMIT CALIB RTT EDGE_MS LINK work;
# sets onnx (the model as ONNX, imported from a .tflite), CALIB (calibrating
# LIMIT photos when empty), EDGE_NS CLOUD_NS EDGE_IP CLOUD_IP (the link, up
# at 5 Mbit/s), SRV (jalad serve in the cloud namespace), F (the edge's
# slowdown for EDGE_MS per image), and $work/cloud.json, $work/edge.json.
imagenet_link_up() {
	case "$MODEL" in
	*.tflite)
		onnx=$work/$(basename "$MODEL" .tflite).onnx
		$PY models/import_tflite.py "$MODEL" "$onnx" >/dev/null ;;
	*) onnx=$MODEL ;;
	esac
	if [ -z "$CALIB" ]; then
		CALIB=$work/calib.json
		echo "bench/net: calibrating $LIMIT photos (single-tensor cuts, 2-8 bits) ..." >&2
		"$JALAD" calibrate "$onnx" --data "imagenet:$DATA" --limit "$LIMIT" --cuts single --bits 2-8,float \
			--quant tensor --coders raw,huffman-shared,rans0,rans1 --size-limit 200 --timing 16 \
			--jpeg-quality 95 -o "$CALIB" 2>"$work/calib.log" || { tail "$work/calib.log"; exit 1; }
	fi
	eval "$(scripts/netlink.sh up $LINK --rate 5mbit --rtt $RTT 2>/dev/null)"
	# The cloud and the edge at high priority: the emulated edge multiplies
	# its compute time by ~15, and so any disturbance.
	ip netns exec "$CLOUD_NS" nice -n -10 "$JALAD" serve "$onnx" --listen "$CLOUD_IP:7070" --allow-remote \
		--workers 1 --calib "$CALIB" --stats-interval 0 >/dev/null 2>"$work/serve.log" &
	SRV=$!
	sleep 1
	ip netns exec "$CLOUD_NS" "$JALAD" profile "$onnx" --threads 1 --repeat 30 --quiet --server "$CLOUD_IP:7070" \
		-o "$work/cloud.json" 2>"$work/cloud.log" || { cat "$work/cloud.log"; exit 1; }
	F=$($PY -c "import json,sys; print(round($EDGE_MS / json.load(open(sys.argv[1]))['total_ms'], 2))" \
		"$work/cloud.json")
	"$JALAD" profile "$onnx" --threads 1 --repeat 30 --slowdown "$F" --edge-requests --quiet \
		-o "$work/edge.json" 2>/dev/null
}
