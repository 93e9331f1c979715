"""The demo company: departments with heads, employees in two time zones, one portal admin,
work-time settings, one office network range and two group chats.
(Offices, geofences and schedules are timebot's data; the demo seeds those itself.)
"""

from __future__ import annotations

from timebot.sandbox.state import Chat, Department, PortalState, TimemanSettings, User

__all__ = ["GENERAL_CHAT_ID", "SALES_CHAT_ID", "add_staff", "seed_demo_company"]

GENERAL_CHAT_ID = 1
SALES_CHAT_ID = 2

_DEPARTMENTS = [
    Department(1, "ООО «Ромашка»", None, 1, 100),
    Department(2, "Отдел продаж", 1, 2, 200),
    Department(3, "Разработка", 1, 5, 300),
    Department(4, "Бэкенд", 3, 6, 400),
    Department(5, "Екатеринбургский филиал", 1, 9, 500),
]

_MSK = "Europe/Moscow"
_EKB = "Asia/Yekaterinburg"

# id, first, last, gender, position, department, zone ("" = portal default), admin, free schedule
_PEOPLE: list[tuple[int, str, str, str, str, int, str, bool, bool]] = [
    (1, "Анна", "Смирнова", "F", "Генеральный директор", 1, "", True, True),
    (2, "Игорь", "Петров", "M", "Руководитель отдела продаж", 2, _MSK, False, False),
    (3, "Мария", "Иванова", "F", "Менеджер по продажам", 2, "", False, False),
    (4, "Дмитрий", "Кузнецов", "M", "Менеджер по продажам", 2, _MSK, False, True),
    (5, "Елена", "Соколова", "F", "Технический директор", 3, "", False, False),
    (6, "Алексей", "Попов", "M", "Ведущий разработчик", 4, _MSK, False, False),
    (7, "Ольга", "Лебедева", "F", "Разработчик", 4, "", False, False),
    (8, "Сергей", "Козлов", "M", "Разработчик", 4, _MSK, False, False),
    (9, "Наталья", "Новикова", "F", "Директор филиала", 5, _EKB, False, False),
    (10, "Павел", "Морозов", "M", "Инженер поддержки", 5, _EKB, False, False),
    (11, "Татьяна", "Волкова", "F", "Инженер поддержки", 5, _EKB, False, False),
]

_TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
        "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
        "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch",
        "ш": "sh", "щ": "sch", "ы": "y", "э": "e", "ю": "yu", "я": "ya", "ь": "", "ъ": "",
    }
)  # fmt: skip

_COLORS = ["#df532d", "#29619b", "#728f7a", "#ab7761", "#4ba984", "#8474c8", "#e2ad00"]


def _email(first: str, last: str) -> str:
    return (
        f"{first.lower().translate(_TRANSLIT)}.{last.lower().translate(_TRANSLIT)}@romashka.example"
    )


def seed_demo_company(state: PortalState) -> None:
    """Fill an empty portal with the demo company."""
    for department in _DEPARTMENTS:
        state.departments[department.id] = Department(
            department.id, department.name, department.parent, department.head, department.sort
        )
    for uid, first, last, gender, position, dept, zone, admin, free in _PEOPLE:
        ekb = zone == _EKB
        state.users[uid] = User(
            id=uid,
            first_name=first,
            last_name=last,
            email=_email(first, last),
            gender=gender,
            work_position=position,
            departments=[dept],
            time_zone=zone,
            is_admin=admin,
            color=_COLORS[uid % len(_COLORS)],
            timeman=TimemanSettings(
                free=free,
                max_start="09:00:00" if ekb else "09:15:00",
                min_finish="17:45:00" if ekb else "18:00:00",
            ),
        )
    state.next_user_id = max(state.users) + 1
    everyone = [uid for uid, *_ in _PEOPLE]
    state.chats[GENERAL_CHAT_ID] = Chat(GENERAL_CHAT_ID, "C", "Общий чат", everyone, 1)
    state.chats[SALES_CHAT_ID] = Chat(SALES_CHAT_ID, "C", "Продажи", [1, 2, 3, 4], 2, "#4ba984")
    state.next_chat_id = max(state.chats) + 1
    state.network_ranges.append({"ip_range": "192.168.10.0-192.168.10.255", "name": "Офис Москва"})


_STAFF_NAMES: list[tuple[str, str, str]] = [
    ("Андрей", "Орлов", "M"),
    ("Ирина", "Зайцева", "F"),
    ("Максим", "Соловьёв", "M"),
    ("Юлия", "Васильева", "F"),
    ("Николай", "Фёдоров", "M"),
    ("Светлана", "Михайлова", "F"),
    ("Роман", "Белов", "M"),
    ("Екатерина", "Тарасова", "F"),
    ("Виктор", "Комаров", "M"),
    ("Анастасия", "Жукова", "F"),
]


def add_staff(state: PortalState, count: int, team_size: int = 10) -> list[int]:
    """Add `count` synthetic employees (load and fault tests) in teams of `team_size`: each
    team a department under the company root (created if missing), headed by its first member.
    Returns the new user ids."""
    if count <= 0:
        return []
    team_size = max(team_size, 1)
    root = min((d.id for d in state.departments.values() if d.parent is None), default=None)
    if root is None:
        root = max(state.departments, default=0) + 1
        state.departments[root] = Department(root, "Компания", None, None, 100)
    added: list[int] = []
    department = 0
    for n in range(count):
        uid = state.new_user_id()
        if n % team_size == 0:
            department = max(state.departments) + 1
            number = n // team_size + 1
            state.departments[department] = Department(
                department, f"Команда {number}", root, uid, 1000 + number
            )
        first, last, gender = _STAFF_NAMES[n % len(_STAFF_NAMES)]
        state.users[uid] = User(
            id=uid,
            first_name=first,
            last_name=f"{last}-{n + 1}",
            email=f"staff{n + 1}@romashka.example",
            gender=gender,
            work_position="Специалист",
            departments=[department],
            color=_COLORS[uid % len(_COLORS)],
        )
        added.append(uid)
    state.bump()
    return added
