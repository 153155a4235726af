"""Asks each gRPC address for the services it serves, with grpcio's own reflection client (the
v1alpha protocol grpcurl and most tools speak), and prints one JSON object: address -> sorted
service names. Usage: grpc_reflection_check.py HOST:PORT..."""

import json
import sys

import grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


def services(address: str) -> list[str]:
    with grpc.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        # One answer to the one request is all we wait for (the stream may stay open).
        response = next(stub.ServerReflectionInfo(iter([request]), timeout=10))
        return sorted(s.name for s in response.list_services_response.service)


print(json.dumps({address: services(address) for address in sys.argv[1:]}))
