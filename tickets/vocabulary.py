"""The domain's closed word lists, with their Chinese labels.

Labels live here so every screen, export and API speaks the same words.
"""
from __future__ import annotations

CHANNELS: dict[str, str] = {
    "hotline_12345": "12345热线",
    "discipline_hotline": "纪委政务监督热线",
    "director_mailbox": "局长信箱",
    "call": "来电",
    "letter": "来信",
    "visit": "来访",
    "cad_110": "110接处警",
    "service_window": "服务窗口",
    "open311": "Open311",
    "import": "导入",
}

CHANNELS_EN: dict[str, str] = {
    "hotline_12345": "12345 hotline",
    "discipline_hotline": "Discipline hotline",
    "director_mailbox": "Director's mailbox",
    "call": "Call",
    "letter": "Letter",
    "visit": "Visit",
    "cad_110": "110 dispatch",
    "service_window": "Service window",
    "open311": "Open311",
    "import": "Import",
}

# Where a label shares a narrow column (the wall's ticker): the long ones, shortened.
# A channel or topic missing here shows its full label.
CHANNELS_SHORT: dict[str, str] = {"discipline_hotline": "纪委热线"}
CHANNELS_SHORT_EN: dict[str, str] = {
    "hotline_12345": "12345", "discipline_hotline": "Discipline", "director_mailbox": "Mailbox",
    "cad_110": "110", "service_window": "Window",
}

KINDS: dict[str, str] = {
    "consultation": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    "praise": "表扬",
}

KINDS_EN: dict[str, str] = {
    "consultation": "Enquiry",
    "help": "Request for help",
    "complaint": "Complaint",
    "report": "Tip-off",
    "suggestion": "Suggestion",
    "praise": "Praise",
}

SLA_CLASSES: dict[str, str] = {
    "consultation": "咨询类",
    "enforcement": "执法办案类",
    "service": "管理服务类",
}

TOPICS: dict[str, str] = {
    "noise": "噪音扰民",
    "theft": "盗窃",
    "fraud": "诈骗",
    "traffic": "交通",
    "household": "户政",
    "exit_entry": "出入境",
    "vehicle": "车驾管",
    "dispute": "纠纷",
    "conduct": "执法作风",
    "lost_property": "失物",
    "other": "其他",
}

TOPICS_EN: dict[str, str] = {
    "noise": "Noise",
    "theft": "Theft",
    "fraud": "Fraud",
    "traffic": "Traffic",
    "household": "Household registration",
    "exit_entry": "Exit & entry",
    "vehicle": "Vehicles & licences",
    "dispute": "Dispute",
    "conduct": "Police conduct",
    "lost_property": "Lost property",
    "other": "Other",
}

TOPICS_SHORT_EN: dict[str, str] = {
    "household": "Household", "exit_entry": "Exit/entry", "vehicle": "Vehicles", "conduct": "Conduct",
    "lost_property": "Lost items",
}

# Ticket status: where a ticket stands in the lifecycle (receive → dispatch → … → close).
STATUSES: dict[str, str] = {
    "received": "已受理",
    "dispatched": "已转办",
    "returned": "已退单",
    "accepted": "已签收",
    "contacted": "已联系",
    "reported": "已上报",
    "approved": "已审核",
    "replied": "已反馈",
    "closed": "已办结",
    "merged": "已合并",
}
STATUSES_EN: dict[str, str] = {
    "received": "Received",
    "dispatched": "Dispatched",
    "returned": "Returned",
    "accepted": "Accepted",
    "contacted": "Contacted",
    "reported": "Reported",
    "approved": "Approved",
    "replied": "Replied",
    "closed": "Closed",
    "merged": "Merged",
}
OPEN_STATUSES = frozenset(STATUSES) - {"closed", "merged"}

# Who uses the platform (``tickets.roles`` says what each may do).
ROLES: dict[str, str] = {
    "admin": "平台办管理员",
    "leader": "局领导",
    "supervisor": "督察/法制/信访",
    "dispatcher": "派单员",
    "handler": "办理民警",
    "duty_officer": "值班民警",
    "viewer": "只读",
}
ROLES_EN: dict[str, str] = {
    "admin": "Platform administrator",
    "leader": "Bureau leader",
    "supervisor": "Supervisor",
    "dispatcher": "Dispatcher",
    "handler": "Station officer",
    "duty_officer": "Duty officer",
    "viewer": "Viewer",
}
