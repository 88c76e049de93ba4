"""Name and time-zone material for the generated directory.

Each culture has given names, family names, the order in which Slack shows
them (``family_first``), and the time zones its people live in. Names that are
not written in Latin script carry a romanisation, used for the ASCII handle
and e-mail address, as a workspace's SCIM provisioning would produce them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Culture:
    key: str
    weight: int
    given: tuple[tuple[str, str], ...]  # (as written, romanised)
    family: tuple[tuple[str, str], ...]
    zones: tuple[str, ...]
    family_first: bool = False
    space_between: bool = True


def _latin(*names: str) -> tuple[tuple[str, str], ...]:
    """Latin-script names; the romanisation is computed later (accents folded)."""
    return tuple((n, "") for n in names)


def _pairs(*pairs: str) -> tuple[tuple[str, str], ...]:
    """'native|romanised' strings."""
    out = []
    for p in pairs:
        native, roman = p.split("|")
        out.append((native, roman))
    return tuple(out)


CULTURES: tuple[Culture, ...] = (
    Culture(
        "us",
        26,
        _latin(
            "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
            "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
            "Thomas", "Sarah", "Christopher", "Karen", "Daniel", "Lisa", "Matthew", "Nancy",
            "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley", "Andrew", "Kimberly",
            "Joshua", "Emily", "Kevin", "Donna", "Brian", "Michelle", "Tyler", "Madison",
            "DeShawn", "Latoya", "Jamal", "Aaliyah", "Brandon", "Brittany", "Mary-Kate", "Jo",
        ),
        _latin(
            "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
            "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson",
            "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen",
            "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "O'Brien",
            "McAllister", "Van Buren", "St. John", "Washington", "Nguyen", "Kowalski",
        ),
        (
            "America/New_York",
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Phoenix",
            "America/Los_Angeles",
            "America/Los_Angeles",
            "America/Anchorage",
            "Pacific/Honolulu",
        ),
    ),
    Culture(
        "uk",
        8,
        _latin(
            "Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Mia", "Jack",
            "Ivy", "Freddie", "Florence", "Arthur", "Poppy", "Siobhan", "Rhys", "Niamh",
            "Ciarán", "Aoife", "Eilidh",
        ),
        _latin(
            "Jones", "Evans", "Hughes", "Edwards", "Roberts", "Wood", "Hall", "Turner",
            "Patel", "Khan", "Murphy", "MacDonald", "Fitzgerald", "Ó Súilleabháin", "Lloyd-Webber",
        ),
        ("Europe/London", "Europe/London", "Europe/Dublin"),
    ),
    Culture(
        "de",
        6,
        _latin(
            "Lukas", "Lena", "Jürgen", "Anna", "Maximilian", "Sophie", "Jörg", "Käthe",
            "Felix", "Mia", "Björn", "Hannah", "Uwe", "Greta", "Lara", "Moritz",
        ),
        _latin(
            "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
            "Schäfer", "Koch", "Bauer", "Groß", "Weiß", "Köhler", "Krüger", "von Weizsäcker",
        ),
        ("Europe/Berlin", "Europe/Berlin", "Europe/Vienna", "Europe/Zurich"),
    ),
    Culture(
        "fr",
        5,
        _latin(
            "Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel", "Zoé", "Raphaël", "Anaïs",
            "Théo", "Maël", "Élodie", "François", "Hélène", "Jean-Luc", "Noémie",
        ),
        _latin(
            "Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux",
            "Fontaine", "Chevalier", "Mercier", "D'Artagnan", "Bélanger", "Côté",
        ),
        ("Europe/Paris", "Europe/Paris", "Europe/Brussels", "America/Toronto"),
    ),
    Culture(
        "es",
        5,
        _latin(
            "José", "María", "Álvaro", "Lucía", "Iñaki", "Begoña", "Sofía", "Martín",
            "Ángel", "Noelia", "Jesús", "Inés", "Ramón", "Pilar", "Nuño", "Ainhoa",
        ),
        _latin(
            "Núñez", "García", "Fernández", "González", "Rodríguez", "López", "Martínez",
            "Sánchez", "Pérez", "Gómez", "Muñoz", "Ibáñez", "Peña", "Castañeda", "de la Fuente",
        ),
        ("Europe/Madrid", "Europe/Madrid", "America/Mexico_City", "America/Bogota",
         "America/Argentina/Buenos_Aires", "America/Santiago"),
    ),
    Culture(
        "br",
        5,
        _latin(
            "João", "Ana", "Gustavo", "Júlia", "Luís", "Beatriz", "Vinícius", "Letícia",
            "Thiago", "Camila", "Caio", "Conceição",
        ),
        _latin(
            "Silva", "Santos", "Oliveira", "Souza", "Conceição", "Araújo", "Gonçalves",
            "Magalhães", "Simões", "Brandão", "Figueirêdo",
        ),
        ("America/Sao_Paulo", "America/Sao_Paulo", "Europe/Lisbon"),
    ),
    Culture(
        "nordic",
        4,
        _latin(
            "Zoë", "Søren", "Åsa", "Bjørn", "Ingrid", "Øystein", "Mette", "Ása", "Sigurður",
            "Linnéa", "Mikko", "Päivi", "Jönsson", "Aino",
        ),
        _latin(
            "Ødegaard", "Ångström", "Sørensen", "Hansen", "Johansson", "Lindqvist",
            "Virtanen", "Mäkinen", "Guðmundsdóttir", "Kjærsgaard", "Nyström",
        ),
        ("Europe/Oslo", "Europe/Stockholm", "Europe/Copenhagen", "Europe/Helsinki",
         "Atlantic/Reykjavik"),
    ),
    Culture(
        "pl",
        2,
        _latin("Łukasz", "Zofia", "Paweł", "Małgorzata", "Wojciech", "Agnieszka", "Jiří", "Šárka"),
        _latin("Wiśniewski", "Łęcka", "Dąbrowski", "Żółkiewska", "Nowák", "Dvořák", "Král"),
        ("Europe/Warsaw", "Europe/Prague"),
    ),
    Culture(
        "jp",
        5,
        _pairs(
            "太郎|taro", "花子|hanako", "翔太|shota", "陽菜|hina", "大輔|daisuke", "美咲|misaki",
            "健一|kenichi", "さくら|sakura", "蓮|ren", "結衣|yui",
        ),
        _pairs(
            "山田|yamada", "佐藤|sato", "鈴木|suzuki", "高橋|takahashi", "田中|tanaka",
            "渡辺|watanabe", "伊藤|ito", "中村|nakamura", "小林|kobayashi",
        ),
        ("Asia/Tokyo",),
        family_first=True,
    ),
    Culture(
        "cn",
        4,
        _pairs("伟|wei", "芳|fang", "娜|na", "敏|min", "静|jing", "磊|lei", "洋|yang", "艳|yan"),
        _pairs("王|wang", "李|li", "张|zhang", "刘|liu", "陈|chen", "杨|yang", "黄|huang", "赵|zhao"),
        ("Asia/Shanghai", "Asia/Shanghai", "Asia/Singapore", "Asia/Hong_Kong", "Asia/Taipei"),
        family_first=True,
        space_between=False,
    ),
    Culture(
        "kr",
        2,
        _pairs("민준|minjun", "서연|seoyeon", "지훈|jihoon", "하은|haeun", "도윤|doyun", "지우|jiwoo"),
        _pairs("김|kim", "이|lee", "박|park", "최|choi", "정|jung"),
        ("Asia/Seoul",),
        family_first=True,
        space_between=False,
    ),
    Culture(
        "in",
        9,
        _latin(
            "Aarav", "Priya", "Vivaan", "Ananya", "Arjun", "Diya", "Rohan", "Kavya", "Sai",
            "Ishaan", "Lakshmi", "Venkatesh", "Deepika", "Rahul", "Sneha", "Karthik",
        ),
        _latin(
            "Sharma", "Patel", "Iyer", "Reddy", "Nair", "Gupta", "Singh", "Kumar", "Mukherjee",
            "Venkataraman", "Chatterjee", "Menon", "Bhattacharya",
        ),
        ("Asia/Kolkata", "Asia/Kolkata", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka"),
    ),
    Culture(
        "ru",
        4,
        _pairs(
            "Дмитрий|dmitry", "Анна|anna", "Сергей|sergey", "Ольга|olga", "Алексей|alexey",
            "Екатерина|ekaterina", "Иван|ivan", "Наталья|natalya", "Юлия|yulia",
        ),
        _pairs(
            "Иванов|ivanov", "Смирнов|smirnov", "Кузнецов|kuznetsov", "Попов|popov",
            "Соколов|sokolov", "Лебедев|lebedev", "Шевченко|shevchenko", "Ковальчук|kovalchuk",
        ),
        ("Europe/Moscow", "Europe/Moscow", "Europe/Kyiv", "Asia/Yekaterinburg", "Asia/Almaty"),
    ),
    Culture(
        "ar",
        4,
        _pairs(
            "محمد|mohammed", "فاطمة|fatima", "أحمد|ahmed", "مريم|maryam", "علي|ali",
            "نور|nour", "يوسف|youssef", "ليلى|layla", "عمر|omar",
        ),
        _pairs(
            "العلي|alali", "حسن|hassan", "الحسيني|alhusseini", "خليل|khalil",
            "المصري|almasri", "الرشيد|alrashid", "منصور|mansour",
        ),
        ("Asia/Dubai", "Asia/Riyadh", "Africa/Cairo", "Asia/Amman", "Africa/Casablanca"),
    ),
    Culture(
        "he",
        1,
        _pairs("נועה|noa", "איתי|itai", "תמר|tamar", "יונתן|yonatan"),
        _pairs("כהן|cohen", "לוי|levi", "מזרחי|mizrahi", "פרץ|peretz"),
        ("Asia/Jerusalem",),
    ),
    Culture(
        "gr",
        1,
        _pairs("Γιώργος|giorgos", "Μαρία|maria", "Νίκος|nikos", "Ελένη|eleni"),
        _pairs("Παπαδόπουλος|papadopoulos", "Οικονόμου|oikonomou", "Γεωργίου|georgiou"),
        ("Europe/Athens",),
    ),
    Culture(
        "africa",
        3,
        _latin(
            "Chinedu", "Ngozi", "Oluwaseun", "Amara", "Thabo", "Naledi", "Kwame", "Abena",
            "Wanjiru", "Tendai",
        ),
        _latin("Okafor", "Adeyemi", "Nkosi", "Dlamini", "Mensah", "Kamau", "Mutua", "Boateng"),
        ("Africa/Lagos", "Africa/Johannesburg", "Africa/Nairobi", "Africa/Accra"),
    ),
    Culture(
        "oceania",
        4,
        _latin(
            "Liam", "Charlotte", "Jack", "Olivia", "Cooper", "Matilda", "Mitchell", "Tayla",
            "Aroha", "Nikau",
        ),
        _latin("Smith", "Jones", "Williams", "Ngata", "Te Whiti", "Kelly", "Ryan", "Campbell"),
        ("Australia/Sydney", "Australia/Sydney", "Australia/Melbourne", "Australia/Perth",
         "Australia/Adelaide", "Pacific/Auckland"),
    ),
    Culture(
        "newfoundland",
        1,
        _latin("Brendan", "Siobhan", "Gerard", "Colleen"),
        _latin("Power", "Walsh", "Fitzpatrick", "Tobin"),
        ("America/St_Johns", "America/Halifax"),
    ),
)


# Slack's tz_label: (standard, daylight). Slack shows the label that applies now.
TZ_LABELS: dict[str, tuple[str, str]] = {
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time"),
    "America/Toronto": ("Eastern Standard Time", "Eastern Daylight Time"),
    "America/Chicago": ("Central Standard Time", "Central Daylight Time"),
    "America/Mexico_City": ("Central Standard Time", "Central Daylight Time"),
    "America/Denver": ("Mountain Standard Time", "Mountain Daylight Time"),
    "America/Phoenix": ("Mountain Standard Time", "Mountain Standard Time"),
    "America/Los_Angeles": ("Pacific Standard Time", "Pacific Daylight Time"),
    "America/Anchorage": ("Alaska Standard Time", "Alaska Daylight Time"),
    "Pacific/Honolulu": ("Hawaii-Aleutian Standard Time", "Hawaii-Aleutian Daylight Time"),
    "America/St_Johns": ("Newfoundland Standard Time", "Newfoundland Daylight Time"),
    "America/Halifax": ("Atlantic Standard Time", "Atlantic Daylight Time"),
    "America/Sao_Paulo": ("Brasilia Standard Time", "Brasilia Summer Time"),
    "America/Bogota": ("Colombia Standard Time", "Colombia Summer Time"),
    "America/Argentina/Buenos_Aires": ("Argentina Standard Time", "Argentina Summer Time"),
    "America/Santiago": ("Chile Standard Time", "Chile Summer Time"),
    "Europe/London": ("Greenwich Mean Time", "British Summer Time"),
    "Europe/Dublin": ("Greenwich Mean Time", "Irish Standard Time"),
    "Europe/Lisbon": ("Western European Standard Time", "Western European Summer Time"),
    "Atlantic/Reykjavik": ("Greenwich Mean Time", "Greenwich Mean Time"),
    "Europe/Berlin": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Vienna": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Zurich": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Paris": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Brussels": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Madrid": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Oslo": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Stockholm": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Copenhagen": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Warsaw": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Prague": ("Central European Standard Time", "Central European Summer Time"),
    "Africa/Lagos": ("West Africa Standard Time", "West Africa Summer Time"),
    "Africa/Casablanca": ("Morocco Standard Time", "Morocco Summer Time"),
    "Europe/Helsinki": ("Eastern European Standard Time", "Eastern European Summer Time"),
    "Europe/Athens": ("Eastern European Standard Time", "Eastern European Summer Time"),
    "Europe/Kyiv": ("Eastern European Standard Time", "Eastern European Summer Time"),
    "Africa/Cairo": ("Eastern European Standard Time", "Eastern European Summer Time"),
    "Asia/Jerusalem": ("Israel Standard Time", "Israel Daylight Time"),
    "Asia/Amman": ("Jordan Standard Time", "Jordan Standard Time"),
    "Africa/Johannesburg": ("South Africa Standard Time", "South Africa Standard Time"),
    "Africa/Nairobi": ("East Africa Time", "East Africa Time"),
    "Africa/Accra": ("Greenwich Mean Time", "Greenwich Mean Time"),
    "Europe/Moscow": ("Moscow Standard Time", "Moscow Summer Time"),
    "Asia/Riyadh": ("Arabian Standard Time", "Arabian Daylight Time"),
    "Asia/Dubai": ("Gulf Standard Time", "Gulf Standard Time"),
    "Asia/Yekaterinburg": ("Yekaterinburg Standard Time", "Yekaterinburg Summer Time"),
    "Asia/Almaty": ("Kazakhstan Time", "Kazakhstan Time"),
    "Asia/Kolkata": ("India Standard Time", "India Standard Time"),
    "Asia/Kathmandu": ("Nepal Time", "Nepal Time"),
    "Asia/Dhaka": ("Bangladesh Standard Time", "Bangladesh Summer Time"),
    "Asia/Shanghai": ("China Standard Time", "China Daylight Time"),
    "Asia/Hong_Kong": ("Hong Kong Standard Time", "Hong Kong Summer Time"),
    "Asia/Taipei": ("Taipei Standard Time", "Taipei Daylight Time"),
    "Asia/Singapore": ("Singapore Standard Time", "Singapore Standard Time"),
    "Asia/Seoul": ("Korean Standard Time", "Korean Daylight Time"),
    "Asia/Tokyo": ("Japan Standard Time", "Japan Daylight Time"),
    "Australia/Perth": ("Australian Western Standard Time", "Australian Western Daylight Time"),
    "Australia/Adelaide": ("Australian Central Standard Time", "Australian Central Daylight Time"),
    "Australia/Sydney": ("Australian Eastern Standard Time", "Australian Eastern Daylight Time"),
    "Australia/Melbourne": ("Australian Eastern Standard Time", "Australian Eastern Daylight Time"),
    "Pacific/Auckland": ("New Zealand Standard Time", "New Zealand Daylight Time"),
}

BOT_NAMES: tuple[tuple[str, str], ...] = (
    ("jira", "Jira Cloud"),
    ("github", "GitHub"),
    ("pagerduty", "PagerDuty"),
    ("google_drive", "Google Drive"),
    ("zoom", "Zoom"),
    ("polly", "Polly"),
    ("donut", "Donut"),
    ("standuply", "Standuply"),
    ("giphy", "Giphy"),
    ("workflow_builder", "Workflow Builder"),
    ("salesforce", "Salesforce"),
    ("statuspage", "Statuspage"),
)

TEAM_WORDS: tuple[str, ...] = (
    "engineering", "design", "sales", "marketing", "support", "finance", "legal", "people",
    "security", "it-helpdesk", "data", "platform", "mobile", "infra", "product", "comms",
    "facilities", "procurement", "research", "qa", "sre", "growth", "partners", "training",
)

CHANNEL_WORDS: tuple[str, ...] = (
    "announcements", "random", "help", "standup", "incidents", "releases", "social",
    "watercooler", "feedback", "hiring", "onboarding", "offsite", "books", "pets", "music",
    "travel", "kudos", "lunch", "questions", "alerts", "deploys", "roadmap", "all-hands",
)

COLORS: tuple[str, ...] = (
    "9f69e7", "4bbe2e", "e7392d", "3c989f", "674b1b", "e96699", "e0a729", "684b6c",
    "5b89d5", "2b6836", "99d04a", "dd8527", "bc3663", "235e5b", "df3dc0", "9b3b45",
)

TITLES: tuple[str, ...] = (
    "", "", "", "Software Engineer", "Senior Software Engineer", "Product Manager",
    "Designer", "Account Executive", "Support Specialist", "Engineering Manager",
    "Data Analyst", "Recruiter", "Office Manager", "VP Engineering", "Head of Comms",
    "Security Engineer", "Finance Partner", "Legal Counsel", "Marketing Lead",
)
