"""The InfluxDB storage sink: every telemetry record and lap summary, replay-safe."""
