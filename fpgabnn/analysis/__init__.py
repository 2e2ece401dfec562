"""Read-only analyses of a hardware graph (qonnx style: functions returning dicts): performance and resource
estimates against a board, and the report files written from them."""
