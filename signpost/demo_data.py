"""The one place the made-up people and places live: names by community, variants, towns, streets.

Shared by the demo stream (`signpost.demo`) and the synthetic evaluation set (`signpost.synth`).
All names are common in the UK's communities (birth-registration top lists, ONS and NRS, and
community naming references); the people are invented. The first part is the demo's lists,
unchanged (changing them changes every seeded demo stream); the `MORE_*` lists widen them for
the synthetic set, so a population of 20,000 is not unrealistically full of namesakes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CARER_RELATIONSHIPS",
    "FAMILY_VARIANTS",
    "INWARD_LETTERS",
    "MORE_NAMES",
    "MORE_NICKNAMES",
    "MORE_STREET_NAMES",
    "MORE_TOWNS",
    "NAME_GROUPS",
    "NICKNAMES",
    "STREET_NAMES",
    "STREET_TYPES",
    "TOWNS",
    "TRANSLITERATED",
    "Names",
]

@dataclass(frozen=True)
class Names:
    """Names common in one community in the UK: children, family names, adults."""

    girls: tuple[str, ...]
    boys: tuple[str, ...]
    families: tuple[str, ...]
    women: tuple[str, ...]
    men: tuple[str, ...]


# Community and its share of households; double-barrelled names are among the British ones.
NAME_GROUPS: tuple[tuple[str, float, Names], ...] = (
    ("british_irish", 0.45, Names(
        ("Olivia", "Amelia", "Isla", "Ava", "Elizabeth", "Charlotte", "Sophie", "Grace", "Ruby",
         "Zoë", "Chloë", "Renée", "Victoria", "Katherine", "Rebecca", "Jessica", "Evie",
         "Poppy", "Freya", "Niamh", "Aoife", "Siobhán"),
        ("Oliver", "George", "Harry", "Alexander", "William", "Thomas", "James", "Jack", "Noah",
         "Leo", "Charlie", "Alfie", "Jacob", "Joshua", "Samuel", "Daniel", "Theodore", "Seán"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker", "Hughes",
         "Robinson", "O'Brien", "McCarthy", "Smith-Jones", "Taylor-Brown", "Okafor-Williams",
         "Hughes-Ahmed", "Clarke-Mensah", "Price-Kowalczyk"),
        ("Sarah", "Emma", "Claire", "Rachel", "Joanne", "Kelly", "Michelle", "Hannah", "Bríd"),
        ("David", "Paul", "Mark", "Darren", "Lee", "Gareth", "Seán", "Stephen"))),
    ("polish", 0.10, Names(
        ("Zofia", "Zuzanna", "Maja", "Wiktoria", "Aleksandra", "Katarzyna", "Małgorzata"),
        ("Jakub", "Łukasz", "Wojciech", "Krzysztof", "Mateusz", "Kacper", "Szymon"),
        ("Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Zając"),
        ("Agnieszka", "Magdalena", "Joanna", "Ewa"), ("Tomasz", "Piotr", "Marek", "Paweł"))),
    ("pakistani_bangladeshi", 0.12, Names(
        ("Iqra", "Hafsa", "Zainab", "Maryam", "Aisha", "Fatima", "Sadia", "Amina"),
        ("Mohammed", "Hamza", "Bilal", "Zayn", "Ali", "Ibrahim", "Yusuf", "Omar"),
        ("Khan", "Hussain", "Iqbal", "Chaudhry", "Rahman", "Ahmed", "Ali", "Miah"),
        ("Shazia", "Nadia", "Rubina", "Nasreen", "Shamima"), ("Tariq", "Imran", "Asif", "Abdul"))),
    ("somali_arabic", 0.08, Names(
        ("Hodan", "Ayaan", "Sumaya", "Hawa", "Khadija", "Nour", "Layla", "Yasmin"),
        ("Abdirahman", "Abdullahi", "Mustafa", "Idris", "Hassan", "Ahmed", "Mohammed", "Yusuf"),
        ("Abdi", "Warsame", "Farah", "Mohamed", "Hassan", "Osman", "Jama"),
        ("Fadumo", "Asha", "Nasra", "Hibo"), ("Abdi", "Mahad", "Ahmed", "Omar"))),
    ("nigerian", 0.10, Names(
        ("Chidinma", "Adaeze", "Temitope", "Ngozi", "Folake", "Blessing", "Oluwadamilola"),
        ("Chinedu", "Oluwaseun", "Chukwuemeka", "Tobiloba", "Ayodele", "Obinna", "Daniel"),
        ("Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu", "Oyelaran"),
        ("Funmilayo", "Adaora", "Ngozi", "Bukola"), ("Olumide", "Chukwudi", "Emeka", "Tunde"))),
    ("romanian", 0.07, Names(
        ("Ioana", "Andreea", "Elena", "Mădălina", "Ștefania", "Bianca"),
        ("Andrei", "Ștefan", "Mihai", "Ionuț", "Bogdan", "Răzvan"),
        ("Popescu", "Ionescu", "Constantin", "Dumitru", "Stănescu", "Munteanu"),
        ("Mihaela", "Gabriela", "Florentina"), ("Ionel", "Vasile", "Gheorghe", "Florin"))),
    ("west_african", 0.08, Names(
        ("Victoria", "Anaïs", "Aminata", "Fatoumata", "Akosua", "Grace"),
        ("Kwame", "Kofi", "Moussa", "Ibrahima", "Yaw", "Joël"),
        ("Climbié", "Kouassi", "Diallo", "Traoré", "Mensah", "Asante", "Kouao"),
        ("Marie-Thérèse", "Adwoa", "Mariama", "Awa"), ("Kwabena", "Mamadou", "Kofi", "Sékou"))),
)
# Nicknames, diminutives and transliterations an agency may record instead.
NICKNAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Elizabeth", ("Beth", "Liz", "Lizzie")), ("Alexander", ("Alex", "Sasha")),
    ("William", ("Bill", "Will", "Liam")), ("Mohammed", ("Muhammad", "Mohamed", "Mohammad")),
    ("Katherine", ("Kate", "Katie")), ("Victoria", ("Vicky", "Tori")), ("Rebecca", ("Becky",)),
    ("Jessica", ("Jess",)), ("Thomas", ("Tom", "Tommy")), ("James", ("Jamie", "Jim")),
    ("Oliver", ("Ollie",)), ("Charlotte", ("Lottie",)), ("Samuel", ("Sam",)),
    ("Daniel", ("Dan", "Danny")), ("Joshua", ("Josh",)), ("Theodore", ("Theo",)),
    ("Jacob", ("Jake",)), ("Aleksandra", ("Ola", "Alexandra")), ("Katarzyna", ("Kasia",)),
    ("Wojciech", ("Wojtek",)), ("Jakub", ("Kuba", "Jacob")), ("Aisha", ("Ayesha", "Aysha")),
    ("Yusuf", ("Yousef", "Youssef")), ("Fatima", ("Fatimah",)), ("Ahmed", ("Ahmad",)),
    ("Zainab", ("Zaynab",)), ("Maryam", ("Mariam",)), ("Omar", ("Umar",)),
    ("Ibrahim", ("Ebrahim",)), ("Hassan", ("Hasan",)), ("Layla", ("Leila",)),
    ("Yasmin", ("Yasmine", "Jasmine")), ("Nour", ("Noor",)), ("Oluwaseun", ("Seun",)),
    ("Chukwuemeka", ("Emeka",)), ("Oluwadamilola", ("Damilola",)), ("Mustafa", ("Mustapha",)),
    ("Abdirahman", ("Abdulrahman",)), ("Abdullahi", ("Abdullah",)), ("Andrei", ("Andrew",)),
    ("Mihai", ("Michael",)), ("Mateusz", ("Matthew",)), ("Krzysztof", ("Christopher",)),
    ("Łukasz", ("Luke", "Lukas")), ("Sophie", ("Sophia", "Sofia")), ("Amelia", ("Millie",)),
    ("Małgorzata", ("Gosia",)), ("Ionuț", ("Ion",)), ("Fatoumata", ("Fatou",)),
    ("Ibrahima", ("Ibrahim",)), ("Moussa", ("Musa",)), ("Aminata", ("Amina",)),
)
# Town and the outward codes of some of its postcode districts.
TOWNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("London", ("N17", "N15", "E17", "E8", "SE15", "SW9", "NW10", "W12")),
    ("Manchester", ("M14", "M13", "M8", "M16")), ("Birmingham", ("B11", "B10", "B8", "B12")),
    ("Leeds", ("LS8", "LS9", "LS11")), ("Bradford", ("BD3", "BD7", "BD8")),
    ("Leicester", ("LE2", "LE4", "LE5")), ("Bristol", ("BS5", "BS2", "BS13")),
    ("Liverpool", ("L8", "L7", "L4")), ("Sheffield", ("S2", "S4", "S8")),
    ("Luton", ("LU1", "LU4")), ("Cardiff", ("CF24", "CF11")),
)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # Royal Mail never uses C, I, K, M, O, V here
STREET_NAMES = (
    "Somerset", "Church", "Victoria", "Park", "Station", "Albert", "Queen's", "Mill", "High",
    "Windsor", "Stratford", "Moseley", "Wilmslow", "Clarendon", "Ladypool", "Brunswick",
    "Alexandra", "Cromwell", "Coventry", "Harehills", "Beeston", "Manningham", "Lansdowne",
)
STREET_TYPES: tuple[tuple[str, str], ...] = (  # full form, the abbreviation systems use
    ("Road", "Rd"), ("Street", "St"), ("Avenue", "Ave"), ("Lane", "Ln"), ("Close", "Cl"),
    ("Gardens", "Gdns"), ("Terrace", "Ter"), ("Crescent", "Cres"), ("Grove", "Gro"),
    ("Drive", "Dr"),
)
CARER_RELATIONSHIPS: tuple[tuple[str, float], ...] = (  # relationship, weight
    ("mother", 0.58), ("father", 0.17), ("grandparent", 0.08), ("aunt", 0.07),
    ("foster_carer", 0.10),
)

# --- wider lists for the synthetic set (signpost.synth) -----------------------------------

# More names per community, after the demo's (which stay first: ranks weight the draw).
# No name here is a nickname or respelling of another in its list (see MORE_NICKNAMES).
MORE_NAMES: tuple[tuple[str, Names], ...] = (
    ("british_irish", Names(
        ("Emily", "Isabella", "Mia", "Lily", "Ella", "Evelyn", "Florence", "Harper", "Matilda",
         "Rosie", "Phoebe", "Ivy", "Willow", "Daisy", "Erin", "Holly", "Megan", "Lucy",
         "Abigail", "Eleanor", "Scarlett", "Molly", "Imogen", "Martha", "Alice", "Orla",
         "Caitlin", "Georgia", "Esme", "Maisie", "Nancy", "Bethany", "Paige", "Summer"),
        ("Arthur", "Henry", "Freddie", "Archie", "Oscar", "Lucas", "Isaac", "Finley", "Edward",
         "Max", "Harrison", "Reuben", "Benjamin", "Ethan", "Logan", "Riley", "Callum", "Connor",
         "Dylan", "Lewis", "Ryan", "Kieran", "Owen", "Rhys", "Aidan", "Tyler", "Jayden",
         "Mason", "Louie", "Ronan", "Cian", "Patrick", "Matthew", "Nathan"),
        ("Davies", "Thomas", "Johnson", "Roberts", "Wright", "Thompson", "White", "Green",
         "Hall", "Wood", "Harris", "Martin", "Jackson", "Clarke", "Lewis", "Lee", "Allen",
         "Young", "King", "Scott", "Murphy", "Kelly", "Campbell", "Stewart", "Turner", "Hill",
         "Moore", "Cooper", "Ward", "Morris", "Baker", "Carter", "Phillips", "Mitchell",
         "Walsh", "Doyle", "Byrne", "Ward-Thomas", "Hall-Davies", "Lewis-Grant"),
        ("Nicola", "Laura", "Gemma", "Lisa", "Amy", "Stacey", "Louise", "Danielle", "Siobhan"),
        ("Craig", "Jason", "Wayne", "Matthew", "Christopher", "Andrew", "Dean", "Liam"))),
    ("polish", Names(
        ("Julia", "Lena", "Hanna", "Natalia", "Oliwia", "Gabriela", "Weronika", "Nikola"),
        ("Antoni", "Jan", "Filip", "Franciszek", "Michał", "Bartosz", "Dawid", "Adrian"),
        ("Woźniak", "Kaczmarek", "Michalak", "Pawlak", "Wróbel", "Sikora", "Baran", "Król",
         "Nowicki", "Walczak"),
        ("Monika", "Katarzyna", "Anna", "Beata"), ("Krzysztof", "Grzegorz", "Robert", "Adam"))),
    ("pakistani_bangladeshi", Names(
        ("Safa", "Inaya", "Aleena", "Eman", "Anaya", "Mahnoor", "Haleema", "Sana", "Areeba",
         "Tasnim", "Nusrat", "Zara", "Alisha", "Hira"),
        ("Rayyan", "Haris", "Usman", "Ismail", "Zakariya", "Arham", "Shayan", "Rehan", "Sami",
         "Faisal", "Adam", "Hassan", "Ayaan", "Danyal"),
        ("Akhtar", "Mahmood", "Shah", "Aslam", "Anwar", "Rashid", "Islam", "Uddin", "Hoque",
         "Butt", "Malik", "Qureshi"),
        ("Samina", "Rukhsana", "Parveen", "Farzana", "Salma", "Tahmina"),
        ("Khalid", "Shahid", "Zahid", "Jamal", "Nasir", "Shafiq"))),
    ("somali_arabic", Names(
        ("Ifrah", "Sagal", "Hamdi", "Filsan", "Nimco", "Sahra", "Ladan", "Deeqa", "Safiya"),
        ("Abdikarim", "Abdiaziz", "Liban", "Faysal", "Yahye", "Bashir", "Said", "Zakaria"),
        ("Nur", "Aden", "Hirsi", "Egal", "Dahir", "Ismail", "Ibrahim", "Abdullahi", "Yusuf"),
        ("Halima", "Sahra", "Amran", "Faduma"), ("Abdikadir", "Yusuf", "Hussein", "Mohamud"))),
    ("nigerian", Names(
        ("Chiamaka", "Ifeoma", "Precious", "Favour", "Esther", "Tolulope", "Adunni",
         "Oyinkansola", "Kemi", "Nneka"),
        ("Oluwatobi", "Emmanuel", "David", "Chibuike", "Ifeanyi", "Tochukwu", "Olamide",
         "Babatunde", "Kayode", "Joshua"),
        ("Okoro", "Ogunleye", "Adebayo", "Okeke", "Obi", "Afolabi", "Oladipo", "Chukwu", "Ibe",
         "Uche", "Adeleke"),
        ("Yetunde", "Chioma", "Ifeoma", "Abimbola"), ("Segun", "Femi", "Uche", "Kunle"))),
    ("romanian", Names(
        ("Maria", "Daria", "Irina", "Raluca", "Alina", "Cristina", "Denisa", "Larisa"),
        ("Alexandru", "David", "Gabriel", "Darius", "Cristian", "Marius", "Vlad", "Sorin"),
        ("Popa", "Stan", "Stoica", "Gheorghe", "Rusu", "Matei", "Ciobanu", "Lungu",
         "Moldovan", "Dobre"),
        ("Daniela", "Ramona", "Loredana"), ("Costel", "Nicolae", "Dorin", "Marian"))),
    ("west_african", Names(
        ("Mariama", "Kadiatou", "Adjoa", "Ama", "Efua", "Abena", "Binta", "Nana", "Oumou"),
        ("Kwesi", "Kojo", "Ousmane", "Abdoulaye", "Lamine", "Cheikh", "Kwaku", "Samuel"),
        ("Camara", "Bah", "Sow", "Touré", "Koné", "Owusu", "Boateng", "Appiah", "Ndiaye",
         "Sylla", "Ouattara"),
        ("Akua", "Aïssatou", "Fanta", "Esi"), ("Yaw", "Boubacar", "Kwasi", "Ousmane"))),
)
# More nicknames, diminutives and respellings an agency may record instead of the name.
MORE_NICKNAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Benjamin", ("Ben", "Benji")), ("Edward", ("Ed", "Eddie", "Ted")), ("Henry", ("Harry",)),
    ("Matilda", ("Tilly", "Tilda")), ("Eleanor", ("Ellie", "Nell")), ("Abigail", ("Abbie",)),
    ("Isabella", ("Bella", "Izzy")), ("Florence", ("Flo", "Florrie")), ("Imogen", ("Immy",)),
    ("Megan", ("Meg",)), ("Harrison", ("Harry",)), ("Isaac", ("Zac",)), ("Callum", ("Cal",)),
    ("Olivia", ("Liv", "Livvy")), ("Grace", ("Gracie",)), ("George", ("Georgie",)),
    ("Matthew", ("Matt",)), ("Nathan", ("Nate",)), ("Frederick", ("Freddie",)),
    ("Theodore", ("Teddy",)), ("Rebecca", ("Becca",)), ("Jessica", ("Jessie",)),
    ("Elizabeth", ("Eliza", "Libby")), ("Katherine", ("Kath", "Catherine")),
    ("Samuel", ("Sammy",)), ("Patrick", ("Paddy",)), ("Evelyn", ("Evie",)),
    ("Zuzanna", ("Zuzia",)), ("Zofia", ("Zosia", "Sofia")), ("Wiktoria", ("Victoria",)),
    ("Szymon", ("Simon",)), ("Kacper", ("Casper",)), ("Michał", ("Michael",)),
    ("Franciszek", ("Franek",)), ("Aleksandra", ("Alexandra",)), ("Natalia", ("Natalie",)),
    ("Mohammed", ("Muhammed", "Mohamad", "Mohd")), ("Zayn", ("Zain",)), ("Hamza", ("Hamzah",)),
    ("Bilal", ("Belal",)), ("Hafsa", ("Hafsah",)), ("Sadia", ("Saadia",)),
    ("Amina", ("Aminah", "Ameena")), ("Khadija", ("Khadijah",)), ("Sumaya", ("Sumaiya",)),
    ("Idris", ("Idrees",)), ("Ayaan", ("Ayan",)), ("Aisha", ("Aishah",)), ("Fatima", ("Fatma",)),
    ("Yusuf", ("Yousuf",)), ("Nour", ("Nur",)), ("Layla", ("Laila",)),
    ("Ibrahim", ("Ibraheem",)), ("Zakariya", ("Zakaria", "Zachariah")), ("Ismail", ("Ismael",)),
    ("Usman", ("Osman",)), ("Rayyan", ("Rayan",)), ("Abdikarim", ("Abdulkarim",)),
    ("Temitope", ("Tope", "Temi")), ("Oluwadamilola", ("Dami",)), ("Tobiloba", ("Tobi",)),
    ("Ayodele", ("Ayo",)), ("Adaeze", ("Ada",)), ("Oluwatobi", ("Tobi",)),
    ("Oyinkansola", ("Oyin",)), ("Chiamaka", ("Amaka",)), ("Emmanuel", ("Manny",)),
    ("Ștefan", ("Stefan", "Stephen")), ("Ștefania", ("Stefania", "Stephanie")),
    ("Andreea", ("Andrea",)), ("Alexandru", ("Alex",)), ("Gabriel", ("Gabi",)),
    ("Kwame", ("Kwami",)), ("Abdoulaye", ("Abdullah",)), ("Mariama", ("Mariam",)),
)
# Variants above that are respellings, transliterations or the form in another language,
# rather than a diminutive (the synthetic set counts the two kinds apart).
TRANSLITERATED: tuple[str, ...] = (
    "Muhammad", "Mohamed", "Mohammad", "Muhammed", "Mohamad", "Alexandra", "Jacob", "Ayesha",
    "Aysha", "Aishah", "Yousef", "Youssef", "Yousuf", "Fatimah", "Fatma", "Ahmad", "Zaynab",
    "Mariam", "Umar", "Ebrahim", "Ibraheem", "Hasan", "Leila", "Laila", "Yasmine", "Jasmine",
    "Noor", "Nur", "Mustapha", "Abdulrahman", "Abdullah", "Andrew", "Michael", "Matthew",
    "Christopher", "Luke", "Lukas", "Sophia", "Sofia", "Ibrahim", "Musa", "Catherine",
    "Victoria", "Simon", "Casper", "Natalie", "Zain", "Hamzah", "Belal", "Hafsah", "Saadia",
    "Aminah", "Ameena", "Khadijah", "Sumaiya", "Idrees", "Ayan", "Zakaria", "Zachariah",
    "Ismael", "Osman", "Rayan", "Abdulkarim", "Stefan", "Stephen", "Stefania", "Stephanie",
    "Andrea", "Kwami", "Ion",
)
# Family names written differently by different agencies (transliterations, respellings).
FAMILY_VARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Hussain", ("Hussein", "Husain")), ("Chaudhry", ("Choudhury", "Chowdhury", "Chaudhary")),
    ("Rahman", ("Rehman",)), ("Ahmed", ("Ahmad",)), ("Mohamed", ("Mohammed", "Mohamud")),
    ("Hassan", ("Hasan",)), ("Osman", ("Usman", "Othman")), ("Farah", ("Farrah",)),
    ("Warsame", ("Warsama",)), ("Miah", ("Mia", "Miya")), ("Iqbal", ("Ikbal",)),
    ("Ali", ("Aly",)), ("Mahmood", ("Mahmud", "Mehmood")), ("Uddin", ("Udin",)),
    ("Hoque", ("Haque", "Hoq")), ("Qureshi", ("Kureshi",)), ("Diallo", ("Jallow",)),
    ("Touré", ("Toure", "Turay")), ("Mensah", ("Mensa",)), ("Owusu", ("Owusuh",)),
    ("Nowak", ("Novak",)), ("Kowalczyk", ("Kovalchyk",)), ("Hussein", ("Hussain",)),
    ("Abdullahi", ("Abdullah",)), ("Yusuf", ("Yousuf",)), ("Ismail", ("Ismael",)),
)
# More towns and postcode districts (real outward codes; districts of a town are neighbours).
MORE_TOWNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Nottingham", ("NG7", "NG3", "NG6")), ("Coventry", ("CV1", "CV2", "CV6")),
    ("Oldham", ("OL1", "OL8", "OL9")), ("Blackburn", ("BB1", "BB2")), ("Slough", ("SL1", "SL2")),
    ("Peterborough", ("PE1", "PE2")), ("Southampton", ("SO14", "SO15")),
    ("Newport", ("NP19", "NP20")), ("Middlesbrough", ("TS1", "TS3", "TS5")),
)
MORE_STREET_NAMES = (
    "Oxford", "Cambridge", "Grange", "Manor", "Springfield", "Green", "Highfield", "Kingsway",
    "Northumberland", "Belgrave", "Tennyson", "Shakespeare", "Milton", "Byron", "Gladstone",
    "Peel", "Elm", "Oak", "Beech", "Willow", "Chestnut", "Meadow", "Orchard", "Princes",
)
