# nvmetcp/: the NVMe/TCP target front end (libnvmetcp.a) and the userspace
# NVMe/TCP host library (libnvmehost.a).
noinst_LIBRARIES += nvmetcp/libnvmetcp.a nvmetcp/libnvmehost.a

# PDU layouts and checks are shared by both.
nvmetcp_libnvmetcp_a_SOURCES = \
	nvmetcp/pdu.h nvmetcp/pdu.c \
	nvmetcp/nvmet.h nvmetcp/nvmet_internal.h nvmetcp/ctrl.c nvmetcp/fabrics.c nvmetcp/admin.c \
	nvmetcp/discovery.c nvmetcp/io.c \
	nvmetcp/tcp.h nvmetcp/tcp.c nvmetcp/tcp_rx.c nvmetcp/tcp_tx.c nvmetcp/frontend.c

nvmetcp_libnvmehost_a_SOURCES = \
	nvmetcp/pdu.h nvmetcp/pdu.c \
	nvmetcp/host.h nvmetcp/host_priv.h nvmetcp/host.c \
	nvmetcp/host_queue.c nvmetcp/host_admin.c nvmetcp/host_io.c
